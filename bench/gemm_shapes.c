// dnnl_sgemm against OpenBLAS's cblas_sgemm on the products ArchLab's linear layers make
// (VGG-11's classifier at batch 16, forward as x w^T and as the transposed product w x^T).
//
//   gcc -O2 bench/gemm_shapes.c -o /tmp/gemm_shapes -ldnnl -lopenblas && OMP_NUM_THREADS=2 /tmp/gemm_shapes
//
// Measured on the project machine (OpenBLAS with its Haswell kernels): NT 16x4096x25088: oneDNN
// 44.8 ms, OpenBLAS 27.9 ms; NT 4096x16x25088 (transposed): oneDNN 13.3 ms, OpenBLAS 44.7 ms.
#include <dnnl.h>
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
void t(char ta,char tb,int m,int n,int k){ float*a=calloc(4L*m*k,1),*b=calloc(4L*k*n,1),*c=calloc(4L*m*n,1);
 for(long i=0;i<(long)m*k;i++)a[i]=i%7*0.1f; for(long i=0;i<(long)k*n;i++)b[i]=i%5*0.1f;
 int lda= ta=='N'?k:m, ldb= tb=='N'?n:k;
 for(int lib=0;lib<2;lib++){int it=0;double t0=now();while(now()-t0<2){ if(lib)cblas_sgemm(CblasRowMajor,ta=='N'?CblasNoTrans:CblasTrans,tb=='N'?CblasNoTrans:CblasTrans,m,n,k,1,a,lda,b,ldb,0,c,n); else dnnl_sgemm(ta,tb,m,n,k,1,a,lda,b,ldb,0,c,n);it++;}
 printf("%s %c%c %dx%dx%d: %.2f ms\n",lib?"openblas":"dnnl",ta,tb,m,n,k,(now()-t0)/it*1e3);}
 free(a);free(b);free(c);}
int main(){ t('N','T',16,4096,25088); t('N','T',4096,16,25088); t('N','N',16,25088,4096); t('T','N',4096,25088,16); t('N','T',16,4096,4096);t('N','T',4096,16,4096);}
