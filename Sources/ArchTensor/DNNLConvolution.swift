internal import CDNNL
import Foundation

/// A 2-D convolution of one geometry and batch size on oneDNN's JIT kernels (Debian's libdnnl,
/// the library PyTorch's CPU convolutions use). ArchLab's tensors stay NCHW: inputs, weights and
/// gradients are reordered into the blocked layouts oneDNN picks (nChw16c and the like) inside the
/// plan's shared workspace, so the blocked copies cost no memory per layer.
///
/// Measured on this project's 2-core AVX-512 machine (ResNet-18 at 64x64, batch 32, all of its
/// convolutions forward and backward): 152 ms per step on OpenBLAS im2col + sgemm (Haswell
/// kernels), 157 ms on oneDNN with plain NCHW layouts, 70 ms on oneDNN with blocked layouts plus
/// 5.5 ms of reorders. `Conv2dKernel` (OpenBLAS) stays as the fallback and as a second fast path
/// tested against the same naive reference.
///
/// Unchecked Sendable: oneDNN primitives may execute from any thread (one at a time per object,
/// as a network's steps run); the object's Swift state is fixed when it is planned.
public final class DNNLConvolution: @unchecked Sendable {
    public let geometry: ConvGeometry
    public let batch: Int
    /// OpenMP threads the kernels were planned for and run with (oneDNN sizes its per-thread
    /// reductions and blocking when a primitive is created; a different count at execution
    /// would change the summation order and with it the last bits of the results).
    public let threads: Int
    /// Floats of workspace `forward` and `backward` need (blocked copies and oneDNN's scratchpad).
    public let workspaceCount: Int
    /// What the products compute in: with bf16, x, w and dy are rounded to bfloat16 in their
    /// blocked copies; y, dx, dw and db stay float32.
    public let precision: ComputePrecision

    private let engine: dnnl_engine_t
    private let stream: dnnl_stream_t
    private let plain: (src: dnnl_memory_desc_t, weights: dnnl_memory_desc_t, dst: dnnl_memory_desc_t, bias: dnnl_memory_desc_t)
    private let hasBias: Bool
    private let forwardStep: Step
    private let backwardDataStep: Step
    private let backwardWeightsStep: Step
    private let forwardLayout: WorkspaceLayout
    private let backwardLayout: WorkspaceLayout

    /// nil when oneDNN is missing this configuration (the caller falls back to `Conv2dKernel`).
    public init?(geometry g: ConvGeometry, batch: Int, bias: Bool, threads: Int, precision: ComputePrecision = .float32) {
        self.threads = max(1, threads)
        self.precision = precision
        omp_set_num_threads(Int32(self.threads))
        guard let engine = DNNLEngine.shared.engine, batch > 0, g.outHeight > 0, g.outWidth > 0 else { return nil }
        var stream: dnnl_stream_t?
        guard dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue) == dnnl_success, let stream else { return nil }
        self.engine = engine
        self.stream = stream
        self.geometry = g
        self.batch = batch
        self.hasBias = bias

        let src = Self.desc([batch, g.inChannels, g.inHeight, g.inWidth], dnnl_nchw)
        let dst = Self.desc([batch, g.outChannels, g.outHeight, g.outWidth], dnnl_nchw)
        let weights = g.groups == 1
            ? Self.desc([g.outChannels, g.inChannels, g.kernel.0, g.kernel.1], dnnl_oihw)
            : Self.desc([g.groups, g.groupOut, g.groupIn, g.kernel.0, g.kernel.1], dnnl_goihw)
        let biasDesc = Self.desc([g.outChannels], dnnl_a)
        plain = (src, weights, dst, biasDesc)

        // "any" layouts: oneDNN picks the blocked formats its fastest kernels want; the operands
        // (x, w, dy) in the compute precision, the results (y, dx, dw) in float32
        let operand = precision == .bf16 ? dnnl_bf16 : dnnl_f32
        var anySrc = Self.desc([batch, g.inChannels, g.inHeight, g.inWidth], dnnl_format_tag_any, operand)
        var anyDst = Self.desc([batch, g.outChannels, g.outHeight, g.outWidth], dnnl_format_tag_any)
        var anyWeights = g.groups == 1
            ? Self.desc([g.outChannels, g.inChannels, g.kernel.0, g.kernel.1], dnnl_format_tag_any, operand)
            : Self.desc([g.groups, g.groupOut, g.groupIn, g.kernel.0, g.kernel.1], dnnl_format_tag_any, operand)
        var anySrcGradient = Self.desc([batch, g.inChannels, g.inHeight, g.inWidth], dnnl_format_tag_any)
        var anyDstGradient = Self.desc([batch, g.outChannels, g.outHeight, g.outWidth], dnnl_format_tag_any, operand)
        var anyWeightsGradient = g.groups == 1
            ? Self.desc([g.outChannels, g.inChannels, g.kernel.0, g.kernel.1], dnnl_format_tag_any)
            : Self.desc([g.groups, g.groupOut, g.groupIn, g.kernel.0, g.kernel.1], dnnl_format_tag_any)
        var anyBias = biasDesc
        var strides: [Int64] = [Int64(g.stride.0), Int64(g.stride.1)]
        var dilates: [Int64] = [Int64(g.dilation.0 - 1), Int64(g.dilation.1 - 1)]
        var padL: [Int64] = [Int64(g.padding.0), Int64(g.padding.1)]
        // right padding that makes oneDNN's output size equal PyTorch's floor division
        var padR: [Int64] = [
            Int64((g.outHeight - 1) * g.stride.0 + g.dilation.0 * (g.kernel.0 - 1) + 1 - g.inHeight - g.padding.0),
            Int64((g.outWidth - 1) * g.stride.1 + g.dilation.1 * (g.kernel.1 - 1) + 1 - g.inWidth - g.padding.1),
        ]

        var forwardDesc = dnnl_convolution_desc_t()
        let forwardStatus = withOptionalPointer(bias, &anyBias) {
            dnnl_dilated_convolution_forward_desc_init(&forwardDesc, dnnl_forward_training, dnnl_convolution_direct, &anySrc,
                                                       &anyWeights, $0, &anyDst, &strides, &dilates, &padL, &padR)
        }
        guard forwardStatus == dnnl_success,
              let forward = Step(descriptor: &forwardDesc, hint: nil, engine: engine) else { return nil }
        var dataDesc = dnnl_convolution_desc_t()
        guard dnnl_dilated_convolution_backward_data_desc_init(&dataDesc, dnnl_convolution_direct, &anySrcGradient, &anyWeights, &anyDstGradient,
                                                               &strides, &dilates, &padL, &padR) == dnnl_success,
              let backwardData = Step(descriptor: &dataDesc, hint: forward.pd, engine: engine) else { return nil }
        var weightsDesc = dnnl_convolution_desc_t()
        let weightsStatus = withOptionalPointer(bias, &anyBias) {
            dnnl_dilated_convolution_backward_weights_desc_init(&weightsDesc, dnnl_convolution_direct, &anySrc, &anyWeightsGradient,
                                                                $0, &anyDstGradient, &strides, &dilates, &padL, &padR)
        }
        guard weightsStatus == dnnl_success,
              let backwardWeights = Step(descriptor: &weightsDesc, hint: forward.pd, engine: engine) else { return nil }
        forwardStep = forward
        backwardDataStep = backwardData
        backwardWeightsStep = backwardWeights

        // forward: blocked src, blocked weights, blocked dst, scratchpad
        var fl = WorkspaceLayout()
        fl.add("src", forward.md(dnnl_query_src_md), unless: src)
        fl.add("weights", forward.md(dnnl_query_weights_md), unless: weights)
        fl.add("dst", forward.md(dnnl_query_dst_md), unless: dst)
        fl.add("scratchpad", forward.scratchpadBytes)
        // backward: weights gradient from blocked src and dy, then the input gradient from blocked dy and weights
        var bl = WorkspaceLayout()
        bl.add("w.src", backwardWeights.md(dnnl_query_src_md), unless: src)
        bl.add("w.dy", backwardWeights.md(dnnl_query_diff_dst_md), unless: dst)
        bl.add("w.dw", backwardWeights.md(dnnl_query_diff_weights_md))
        bl.add("w.db", bias ? biasDesc : nil)
        bl.add("d.dy", backwardData.md(dnnl_query_diff_dst_md), unless: dst)
        bl.add("d.weights", backwardData.md(dnnl_query_weights_md), unless: weights)
        bl.add("d.dx", backwardData.md(dnnl_query_diff_src_md))
        bl.add("scratchpad", max(backwardWeights.scratchpadBytes, backwardData.scratchpadBytes))
        forwardLayout = fl
        backwardLayout = bl
        workspaceCount = max(fl.floats, bl.floats)
    }

    deinit { dnnl_stream_destroy(stream) }

    /// y = conv(x, w) + b.
    // x: [N, C, H, W], w: [O, C/g, kh, kw], b: [O], y: [N, O, Ho, Wo]; workspace: >= workspaceCount floats
    public func forward(x: Tensor, weight: Tensor, bias: Tensor?, y: Tensor, workspace: Tensor) {
        precondition(x.shape[0] == batch && workspace.capacity >= workspaceCount, "oneDNN convolution: batch or workspace mismatch")
        omp_set_num_threads(Int32(threads))
        let ws = forwardLayout.bind(workspace)
        let step = forwardStep
        let src = input("src", x.base, plain.src, step.md(dnnl_query_src_md), ws)
        let w = input("weights", weight.base, plain.weights, step.md(dnnl_query_weights_md), ws)
        let dstDesc = step.md(dnnl_query_dst_md)
        let dst = ws["dst"] ?? y.base
        var args = [(DNNL_ARG_SRC, step.md(dnnl_query_src_md), src), (DNNL_ARG_WEIGHTS, step.md(dnnl_query_weights_md), w),
                    (DNNL_ARG_DST, dstDesc, dst)]
        if hasBias, let bias { args.append((DNNL_ARG_BIAS, plain.bias, bias.base)) }
        step.execute(args, scratchpad: ws["scratchpad"], stream: stream)
        if ws["dst"] != nil { reorder("y", dst, dstDesc, into: y.base, plain.dst, accumulate: false) }
    }

    /// Gradients: dw and db accumulate (+=); dx is written or, with `accumulate`, added to.
    // dy: [N, O, Ho, Wo]; dx: [N, C, H, W]; dw: [O, C/g, kh, kw]; db: [O]
    public func backward(x: Tensor, weight: Tensor, dy: Tensor, dx: Tensor?, dWeight: Tensor, dBias: Tensor?,
                         workspace: Tensor, accumulate: Bool) {
        precondition(x.shape[0] == batch && workspace.capacity >= workspaceCount, "oneDNN convolution: batch or workspace mismatch")
        omp_set_num_threads(Int32(threads))
        let ws = backwardLayout.bind(workspace)
        let bw = backwardWeightsStep
        let src = input("w.src", x.base, plain.src, bw.md(dnnl_query_src_md), ws)
        let grad = input("w.dy", dy.base, plain.dst, bw.md(dnnl_query_diff_dst_md), ws)
        let dwDesc = bw.md(dnnl_query_diff_weights_md), dw = Self.buffer(ws, "w.dw")
        var args = [(DNNL_ARG_SRC, bw.md(dnnl_query_src_md), src), (DNNL_ARG_DIFF_DST, bw.md(dnnl_query_diff_dst_md), grad),
                    (DNNL_ARG_DIFF_WEIGHTS, dwDesc, dw)]
        if hasBias, let db = ws["w.db"] { args.append((DNNL_ARG_DIFF_BIAS, plain.bias, db)) }
        bw.execute(args, scratchpad: ws["scratchpad"], stream: stream)
        reorder("dw", dw, dwDesc, into: dWeight.base, plain.weights, accumulate: true)
        if hasBias, let dBias, let db = ws["w.db"] { Vector.add(db, into: dBias.base, geometry.outChannels) }

        guard let dx else { return }
        let bd = backwardDataStep
        let dyDesc = bd.md(dnnl_query_diff_dst_md)
        // the weights-gradient step's blocked dy serves again when both steps chose one layout
        let dyData: UnsafeMutablePointer<Float>
        if let reused = ws["w.dy"], Self.equal(dyDesc, bw.md(dnnl_query_diff_dst_md)) { dyData = reused }
        else { dyData = input("d.dy", dy.base, plain.dst, dyDesc, ws) }
        let w = input("d.weights", weight.base, plain.weights, bd.md(dnnl_query_weights_md), ws)
        let dxDesc = bd.md(dnnl_query_diff_src_md)
        let direct = !accumulate && Self.equal(dxDesc, plain.src)
        let dxData = direct ? dx.base : Self.buffer(ws, "d.dx")
        bd.execute([(DNNL_ARG_DIFF_DST, dyDesc, dyData), (DNNL_ARG_WEIGHTS, bd.md(dnnl_query_weights_md), w),
                    (DNNL_ARG_DIFF_SRC, dxDesc, dxData)], scratchpad: ws["scratchpad"], stream: stream)
        if !direct { reorder("dx", dxData, dxDesc, into: dx.base, plain.src, accumulate: accumulate) }
    }

    // MARK: - Layouts

    /// `data` itself when oneDNN's layout is the plain one (no workspace region `name`), otherwise
    /// its reorder into that region.
    private func input(_ name: String, _ data: UnsafeMutablePointer<Float>, _ from: dnnl_memory_desc_t, _ to: dnnl_memory_desc_t,
                       _ ws: [String: UnsafeMutablePointer<Float>]) -> UnsafeMutablePointer<Float> {
        guard let blocked = ws[name] else { return data }
        reorder(name, data, from, into: blocked, to, accumulate: false)
        return blocked
    }

    /// The workspace region `name` that the layout declared (`bind` returns every region).
    private static func buffer(_ ws: [String: UnsafeMutablePointer<Float>], _ name: String) -> UnsafeMutablePointer<Float> {
        guard let p = ws[name] else { preconditionFailure("the workspace layout has no region '\(name)'") }
        return p
    }

    /// Reorder primitives by role (each role always converts between the same two layouts) and
    /// whether they add into the destination, created on first use.
    private var reorders: [String: Reorder] = [:]

    private func reorder(_ role: String, _ from: UnsafeMutablePointer<Float>, _ fromDesc: dnnl_memory_desc_t,
                         into to: UnsafeMutablePointer<Float>, _ toDesc: dnnl_memory_desc_t, accumulate: Bool) {
        let key = accumulate ? role + "+=" : role
        let r: Reorder
        if let cached = reorders[key] { r = cached } else {
            guard let made = Reorder(from: fromDesc, to: toDesc, accumulate: accumulate, engine: engine) else {
                fatalError("oneDNN cannot reorder between two layouts it chose itself")
            }
            reorders[key] = made
            r = made
        }
        r.execute(from: from, to: to, stream: stream)
    }

    static func desc(_ dims: [Int], _ tag: dnnl_format_tag_t, _ type: dnnl_data_type_t = dnnl_f32) -> dnnl_memory_desc_t {
        var d = dnnl_memory_desc_t()
        let dims64 = dims.map(Int64.init)
        _ = dims64.withUnsafeBufferPointer { dnnl_memory_desc_init_by_tag(&d, Int32(dims.count), $0.baseAddress, type, tag) }
        return d
    }

    static func equal(_ a: dnnl_memory_desc_t, _ b: dnnl_memory_desc_t) -> Bool {
        var a = a, b = b
        return dnnl_memory_desc_equal(&a, &b) != 0
    }
}

/// Which library computes convolutions.
public enum ConvolutionBackend: String, Sendable, CaseIterable {
    /// oneDNN's JIT kernels (`DNNLConvolution`), falling back to OpenBLAS for any geometry oneDNN declines.
    case onednn
    /// im2col + sgemm on OpenBLAS (`Conv2dKernel`).
    case openblas

    /// `ARCHLAB_CONV=openblas` or `onednn` in the environment, otherwise oneDNN.
    public static let preferred: ConvolutionBackend = {
        guard let value = getenv("ARCHLAB_CONV") else { return .onednn }
        return ConvolutionBackend(rawValue: String(cString: value).lowercased()) ?? .onednn
    }()
}

/// The process's oneDNN CPU engine (stateless apart from oneDNN's kernel cache; safe to share,
/// which the C handle's type cannot say: hence unchecked).
final class DNNLEngine: @unchecked Sendable {
    static let shared = DNNLEngine()
    let engine: dnnl_engine_t?

    private init() {
        var e: dnnl_engine_t?
        engine = dnnl_engine_create(&e, dnnl_cpu, 0) == dnnl_success ? e : nil
    }
}

/// One primitive (descriptor and compiled kernel) with a user-managed scratchpad.
private final class Step {
    let pd: dnnl_primitive_desc_t
    let primitive: dnnl_primitive_t
    let scratchpadBytes: Int
    let engine: dnnl_engine_t
    /// One memory object per argument, re-pointed at each call's buffers.
    private var memories: [Int32: dnnl_memory_t] = [:]

    init?(descriptor: UnsafeMutableRawPointer, hint: dnnl_primitive_desc_t?, engine: dnnl_engine_t) {
        var attr: dnnl_primitive_attr_t?
        guard dnnl_primitive_attr_create(&attr) == dnnl_success, let attr else { return nil }
        defer { dnnl_primitive_attr_destroy(attr) }
        guard dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) == dnnl_success else { return nil }
        var pd: dnnl_primitive_desc_t?
        guard dnnl_primitive_desc_create(&pd, UnsafeRawPointer(descriptor), attr, engine, hint) == dnnl_success, let pd else { return nil }
        var primitive: dnnl_primitive_t?
        guard dnnl_primitive_create(&primitive, pd) == dnnl_success, let primitive else {
            dnnl_primitive_desc_destroy(pd)
            return nil
        }
        self.pd = pd
        self.primitive = primitive
        self.engine = engine
        scratchpadBytes = dnnl_query_scratchpad_md.withDesc(pd) { dnnl_memory_desc_get_size($0) }
    }

    deinit {
        for m in memories.values { dnnl_memory_destroy(m) }
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(pd)
    }

    func md(_ what: dnnl_query_t) -> dnnl_memory_desc_t {
        what.withDesc(pd) { $0.pointee }
    }

    func execute(_ args: [(Int32, dnnl_memory_desc_t, UnsafeMutablePointer<Float>)], scratchpad: UnsafeMutablePointer<Float>?,
                 stream: dnnl_stream_t) {
        var all = args
        if scratchpadBytes > 0, let scratchpad { all.append((DNNL_ARG_SCRATCHPAD, md(dnnl_query_scratchpad_md), scratchpad)) }
        var exec: [dnnl_exec_arg_t] = []
        for (arg, desc, data) in all {
            let m = memory(arg, desc)
            check(dnnl_memory_set_data_handle_v2(m, data, stream), "set data handle")
            exec.append(dnnl_exec_arg_t(arg: arg, memory: m))
        }
        check(dnnl_primitive_execute(primitive, stream, Int32(exec.count), exec), "execute")
        check(dnnl_stream_wait(stream), "wait")
    }

    private func memory(_ arg: Int32, _ desc: dnnl_memory_desc_t) -> dnnl_memory_t {
        if let m = memories[arg] { return m }
        var d = desc
        var m: dnnl_memory_t?
        check(dnnl_memory_create(&m, &d, engine, nil), "memory")
        guard let m else { fatalError("oneDNN created no memory object without reporting an error") }
        memories[arg] = m
        return m
    }
}

/// A layout conversion, optionally adding into the destination (a `sum` post-op).
private final class Reorder {
    let primitive: dnnl_primitive_t
    let source: dnnl_memory_t, destination: dnnl_memory_t

    init?(from: dnnl_memory_desc_t, to: dnnl_memory_desc_t, accumulate: Bool, engine: dnnl_engine_t) {
        var from = from, to = to
        var attr: dnnl_primitive_attr_t?
        guard dnnl_primitive_attr_create(&attr) == dnnl_success, let attr else { return nil }
        defer { dnnl_primitive_attr_destroy(attr) }
        if accumulate {
            var ops: dnnl_post_ops_t?
            guard dnnl_post_ops_create(&ops) == dnnl_success, let ops else { return nil }
            defer { dnnl_post_ops_destroy(ops) }
            guard dnnl_post_ops_append_sum(ops, 1) == dnnl_success, dnnl_primitive_attr_set_post_ops(attr, ops) == dnnl_success else { return nil }
        }
        var pd: dnnl_primitive_desc_t?
        guard dnnl_reorder_primitive_desc_create(&pd, &from, engine, &to, engine, attr) == dnnl_success, let pd else { return nil }
        defer { dnnl_primitive_desc_destroy(pd) }
        var primitive: dnnl_primitive_t?, source: dnnl_memory_t?, destination: dnnl_memory_t?
        guard dnnl_primitive_create(&primitive, pd) == dnnl_success, let primitive,
              dnnl_memory_create(&source, &from, engine, nil) == dnnl_success, let source,
              dnnl_memory_create(&destination, &to, engine, nil) == dnnl_success, let destination else { return nil }
        self.primitive = primitive; self.source = source; self.destination = destination
    }

    deinit {
        dnnl_memory_destroy(source); dnnl_memory_destroy(destination)
        dnnl_primitive_destroy(primitive)
    }

    func execute(from: UnsafeMutablePointer<Float>, to: UnsafeMutablePointer<Float>, stream: dnnl_stream_t) {
        check(dnnl_memory_set_data_handle_v2(source, from, stream), "set data handle")
        check(dnnl_memory_set_data_handle_v2(destination, to, stream), "set data handle")
        let args = [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: source), dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: destination)]
        check(dnnl_primitive_execute(primitive, stream, 2, args), "reorder")
        check(dnnl_stream_wait(stream), "wait")
    }
}

/// Named regions of the workspace, each 64-byte aligned (oneDNN's preferred alignment).
private struct WorkspaceLayout {
    private var regions: [(name: String, offset: Int)] = []
    private var end = 0
    /// Floats the regions take, plus the slack of rounding the base up to 64 bytes.
    var floats: Int { end + 16 }

    /// A region for a blocked copy in layout `desc`, unless that layout is the plain one.
    mutating func add(_ name: String, _ desc: dnnl_memory_desc_t?, unless plain: dnnl_memory_desc_t? = nil) {
        guard var desc else { return }
        if let plain, DNNLConvolution.equal(desc, plain) { return }
        add(name, dnnl_memory_desc_get_size(&desc))
    }

    mutating func add(_ name: String, _ bytes: Int) {
        guard bytes > 0 else { return }
        regions.append((name, end))
        end += (bytes / 4 + 15) / 16 * 16
    }

    /// Region pointers into `workspace`, its base rounded up to 64 bytes.
    func bind(_ workspace: Tensor) -> [String: UnsafeMutablePointer<Float>] {
        let misalignment = Int(bitPattern: workspace.base) % 64 / 4
        let base = workspace.base + (misalignment == 0 ? 0 : 16 - misalignment)
        var out: [String: UnsafeMutablePointer<Float>] = [:]
        for r in regions { out[r.name] = base + r.offset }
        return out
    }
}

/// `body(&value)` when `present`, `body(nil)` otherwise (an optional C argument).
private func withOptionalPointer<T, R>(_ present: Bool, _ value: inout T, _ body: (UnsafePointer<T>?) -> R) -> R {
    present ? withUnsafePointer(to: &value) { body($0) } : body(nil)
}

private func check(_ status: dnnl_status_t, _ what: String) {
    if status != dnnl_success { fatalError("oneDNN \(what) failed with status \(status.rawValue)") }
}

private extension dnnl_query_t {
    func withDesc<R>(_ pd: dnnl_primitive_desc_t, _ body: (UnsafePointer<dnnl_memory_desc_t>) -> R) -> R {
        body(dnnl_primitive_desc_query_md(pd, self, 0))
    }
}
