internal import CDNNL

/// The number format convolutions compute in (a training setting, `--precision`).
///
/// `bf16` is PyTorch's CPU `autocast(dtype=torch.bfloat16)` for convolutions: inputs, weights and
/// output gradients are rounded to bfloat16 (8 bits of mantissa) as they are reordered for oneDNN,
/// products accumulate in float32, and outputs and gradients come back in float32. Master weights,
/// optimizer state, batch norm, softmax and the loss stay float32 because they never leave float32
/// tensors. It needs a CPU with bfloat16 instructions (AVX512_BF16 or AMX): on one without,
/// oneDNN would emulate them slower than float32, so ArchLab refuses (`ComputePrecision.check`).
public enum ComputePrecision: String, Sendable, CaseIterable {
    case float32
    case bf16

    /// The instruction set oneDNN dispatches to on this CPU, in words.
    public static var instructionSet: String {
        let isa = dnnl_get_effective_cpu_isa().rawValue
        let names: [(UInt32, String)] = [(dnnl_cpu_isa_avx512_core_amx.rawValue, "AVX-512 with AMX"),
                                         (dnnl_cpu_isa_avx512_core_bf16.rawValue, "AVX-512 with AVX512_BF16"),
                                         (dnnl_cpu_isa_avx512_core_vnni.rawValue, "AVX-512 with VNNI"),
                                         (dnnl_cpu_isa_avx512_core.rawValue, "AVX-512"), (dnnl_cpu_isa_avx2.rawValue, "AVX2")]
        return names.first { isa & $0.0 == $0.0 }?.1 ?? "pre-AVX2"
    }

    /// Whether oneDNN has native bfloat16 kernels on this CPU (AVX512_BF16 or AMX).
    public static var bf16Native: Bool {
        let bf16 = dnnl_cpu_isa_avx512_core_bf16.rawValue
        return DNNLEngine.shared.engine != nil && dnnl_get_effective_cpu_isa().rawValue & bf16 == bf16
    }

    /// Throws when this precision cannot run natively here: the message says what the CPU has.
    public func check() throws(Unsupported) {
        guard self == .bf16 else { return }
        guard ConvolutionBackend.preferred == .onednn else {
            throw Unsupported(description: "--precision bf16 runs convolutions on oneDNN, but ARCHLAB_CONV=openblas asks for OpenBLAS, which has no bfloat16 kernels")
        }
        guard Self.bf16Native else {
            throw Unsupported(description: "--precision bf16 needs a CPU with bfloat16 instructions (AVX512_BF16 or AMX); oneDNN finds \(Self.instructionSet) here, where bfloat16 would only be emulated, slower than float32. Use --precision float32.")
        }
    }

    public struct Unsupported: Error, CustomStringConvertible {
        public let description: String
    }

    /// `x` rounded to the nearest bfloat16 (ties to even), as oneDNN rounds: the reference the
    /// bf16 kernels are tested against.
    public static func roundToBF16(_ x: Float) -> Float {
        guard x.isFinite else { return x }
        let bits = x.bitPattern
        let rounded = (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) & 0xFFFF_0000
        return Float(bitPattern: rounded)
    }
}
