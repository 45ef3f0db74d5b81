// How the convolution backend was chosen (issue 6): ResNet-18's convolutions at 64x64, batch 32,
// forward + backward data + backward weights, on oneDNN with plain NCHW layouts ("nchw") and with
// the blocked layouts oneDNN picks ("any"), plus the reorders between NCHW and those layouts.
// ArchLab's OpenBLAS engine took 152 ms per step for the same convolutions (`archlab bench
// architectures/resnet18.yaml --input 3x64x64 --batch 32` with ARCHLAB_CONV=openblas).
//
//   gcc -O2 bench/onednn_layouts.c -o /tmp/onednn_layouts -ldnnl && OMP_NUM_THREADS=2 /tmp/onednn_layouts
//   (V=1 prints each primitive's implementation and time)
//
// Measured on the project machine (2 cores, AVX-512): nchw 154-163 ms; any 70.5 ms + 5.5 ms of reorders.
#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#define CHK(x) do{dnnl_status_t st_=(x); if(st_!=dnnl_success){printf("err %d at %s:%d\n",st_,__FILE__,__LINE__);exit(1);}}while(0)
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
typedef struct{int n,ci,h,w,co,k,s,p,count;}L;
dnnl_engine_t eng; dnnl_stream_t st;
static dnnl_memory_t mk(const dnnl_memory_desc_t*md){dnnl_memory_t m;CHK(dnnl_memory_create(&m,md,eng,DNNL_MEMORY_ALLOCATE));size_t sz=dnnl_memory_desc_get_size(md);void*p;dnnl_memory_get_data_handle(m,&p);float*f=p;for(size_t i=0;i<sz/4;i++)f[i]=(rand()%100)/100.f-0.5f;return m;}

double reo(const dnnl_memory_desc_t*from,const dnnl_memory_desc_t*to){
  if(dnnl_memory_desc_equal(from,to))return 0;
  dnnl_primitive_desc_t rpd; CHK(dnnl_reorder_primitive_desc_create(&rpd,from,eng,to,eng,NULL));
  dnnl_primitive_t r; CHK(dnnl_primitive_create(&r,rpd)); dnnl_memory_t a=mk(from),b=mk(to);
  dnnl_exec_arg_t args[2]={{DNNL_ARG_FROM,a},{DNNL_ARG_TO,b}};
  for(int i=0;i<3;i++)dnnl_primitive_execute(r,st,2,args); int it=30; double t0=now();
  for(int i=0;i<it;i++)dnnl_primitive_execute(r,st,2,args); dnnl_stream_wait(st); double ms=(now()-t0)/it*1e3;
  dnnl_primitive_destroy(r);dnnl_primitive_desc_destroy(rpd);dnnl_memory_destroy(a);dnnl_memory_destroy(b);return ms;}
double REO=0;
double run(L l,int anyfmt,int which){
  int oh=(l.h+2*l.p-l.k)/l.s+1, ow=(l.w+2*l.p-l.k)/l.s+1;
  dnnl_dims_t sd={l.n,l.ci,l.h,l.w}, wd={l.co,l.ci,l.k,l.k}, dd={l.n,l.co,oh,ow}, str={l.s,l.s}, pad={l.p,l.p};
  dnnl_memory_desc_t s,w,d;
  dnnl_format_tag_t ft=anyfmt?dnnl_format_tag_any:dnnl_nchw, wt=anyfmt?dnnl_format_tag_any:dnnl_oihw;
  CHK(dnnl_memory_desc_init_by_tag(&s,4,sd,dnnl_f32,ft));
  CHK(dnnl_memory_desc_init_by_tag(&w,4,wd,dnnl_f32,wt));
  CHK(dnnl_memory_desc_init_by_tag(&d,4,dd,dnnl_f32,ft));
  dnnl_convolution_desc_t fd; CHK(dnnl_convolution_forward_desc_init(&fd,dnnl_forward_training,dnnl_convolution_direct,&s,&w,NULL,&d,str,pad,pad));
  dnnl_primitive_desc_t fpd; CHK(dnnl_primitive_desc_create(&fpd,&fd,NULL,eng,NULL));
  dnnl_primitive_desc_t pd=fpd; dnnl_convolution_desc_t cd;
  if(which==1){CHK(dnnl_convolution_backward_data_desc_init(&cd,dnnl_convolution_direct,&s,&w,&d,str,pad,pad));CHK(dnnl_primitive_desc_create(&pd,&cd,NULL,eng,fpd));}
  if(which==2){CHK(dnnl_convolution_backward_weights_desc_init(&cd,dnnl_convolution_direct,&s,&w,NULL,&d,str,pad,pad));CHK(dnnl_primitive_desc_create(&pd,&cd,NULL,eng,fpd));}
  const char*impl; dnnl_primitive_desc_query(pd,dnnl_query_impl_info_str,0,&impl);
  const dnnl_memory_desc_t *ms=dnnl_primitive_desc_query_md(pd,which==1?dnnl_query_diff_src_md:dnnl_query_src_md,0);
  const dnnl_memory_desc_t *mw=dnnl_primitive_desc_query_md(pd,which==2?dnnl_query_diff_weights_md:dnnl_query_weights_md,0);
  const dnnl_memory_desc_t *md=dnnl_primitive_desc_query_md(pd,which==0?dnnl_query_dst_md:dnnl_query_diff_dst_md,0);
  if(anyfmt){dnnl_memory_desc_t ps,pw,pdd; dnnl_memory_desc_init_by_tag(&ps,4,sd,dnnl_f32,dnnl_nchw);dnnl_memory_desc_init_by_tag(&pw,4,wd,dnnl_f32,dnnl_oihw);dnnl_memory_desc_init_by_tag(&pdd,4,dd,dnnl_f32,dnnl_nchw);
    double r=0; if(which==0) r=reo(&ps,ms)+reo(&pw,mw)+reo(md,&pdd); if(which==1) r=reo(&pdd,md)+reo(ms,&ps); if(which==2) r=reo(mw,&pw);
    REO+=r*l.count; if(getenv("V"))printf("  reorders %.3f\n",r);}
  dnnl_memory_t a=mk(ms),b=mk(mw),c=mk(md);
  dnnl_primitive_t pr; CHK(dnnl_primitive_create(&pr,pd));
  dnnl_exec_arg_t args[3];
  if(which==0){args[0]=(dnnl_exec_arg_t){DNNL_ARG_SRC,a};args[1]=(dnnl_exec_arg_t){DNNL_ARG_WEIGHTS,b};args[2]=(dnnl_exec_arg_t){DNNL_ARG_DST,c};}
  if(which==1){args[0]=(dnnl_exec_arg_t){DNNL_ARG_DIFF_SRC,a};args[1]=(dnnl_exec_arg_t){DNNL_ARG_WEIGHTS,b};args[2]=(dnnl_exec_arg_t){DNNL_ARG_DIFF_DST,c};}
  if(which==2){args[0]=(dnnl_exec_arg_t){DNNL_ARG_SRC,a};args[1]=(dnnl_exec_arg_t){DNNL_ARG_DIFF_WEIGHTS,b};args[2]=(dnnl_exec_arg_t){DNNL_ARG_DIFF_DST,c};}
  for(int i=0;i<3;i++){CHK(dnnl_primitive_execute(pr,st,3,args));} dnnl_stream_wait(st);
  int it=20; double t0=now(); for(int i=0;i<it;i++)CHK(dnnl_primitive_execute(pr,st,3,args)); dnnl_stream_wait(st);
  double ms_=(now()-t0)/it*1e3;
  if(getenv("V"))printf("  %s %d: %s %.3f ms\n",which==0?"fwd":which==1?"bwd_d":"bwd_w",anyfmt,impl,ms_);
  dnnl_primitive_destroy(pr);dnnl_memory_destroy(a);dnnl_memory_destroy(b);dnnl_memory_destroy(c);
  if(pd!=fpd)dnnl_primitive_desc_destroy(pd); dnnl_primitive_desc_destroy(fpd);
  return ms_*l.count;
}
int main(){
  CHK(dnnl_engine_create(&eng,dnnl_cpu,0)); CHK(dnnl_stream_create(&st,eng,dnnl_stream_default_flags));
  L ls[]={{32,3,64,64,64,7,2,3,1},{32,64,16,16,64,3,1,1,4},{32,64,16,16,128,3,2,1,1},{32,128,8,8,128,3,1,1,3},{32,64,16,16,128,1,2,0,1},
          {32,128,8,8,256,3,2,1,1},{32,256,4,4,256,3,1,1,3},{32,128,8,8,256,1,2,0,1},{32,256,4,4,512,3,2,1,1},{32,512,2,2,512,3,1,1,3},{32,256,4,4,512,1,2,0,1}};
  for(int f=0;f<2;f++){double t[3]={0};for(unsigned i=0;i<sizeof ls/sizeof*ls;i++)for(int w=0;w<3;w++)t[w]+=run(ls[i],f,w);
   printf("fmt %s: fwd %.1f bwd_d %.1f bwd_w %.1f total %.1f ms reorders %.1f\n",f?"any":"nchw",t[0],t[1],t[2],t[0]+t[1]+t[2],REO);}
}
