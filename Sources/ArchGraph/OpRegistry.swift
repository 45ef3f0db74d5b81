/// Every op the builder knows, by its YAML name. Templates from architecture files extend this set
/// per file; they may not reuse these names.
public enum OpRegistry {
    /// Primitive layers.
    public static let layers: [String: any LayerOp.Type] = Dictionary(uniqueKeysWithValues: [
        Conv2d.self, BatchNorm2d.self, LocalResponseNorm.self, ReLU.self, MaxPool2d.self, AvgPool2d.self,
        AdaptiveAvgPool2d.self, Linear.self, Dropout.self, Flatten.self, Identity.self,
        ReLU6.self, Hardswish.self, Hardsigmoid.self, Sigmoid.self, SiLU.self, GELU.self, StochasticDepth.self, ChannelShuffle.self, Chunk.self,
        LayerNorm2d.self, LayerScale.self, ChannelLinear.self,
        Tokens.self, ClassToken.self, PositionEmbedding.self, TakeToken.self, SelfAttention.self,
        WindowAttention.self, PatchMerge.self,
    ].map { ($0.name, $0 as any LayerOp.Type) })

    /// Ops over parallel branches.
    public static let combiners: [String: any CombineOp.Type] = Dictionary(uniqueKeysWithValues: [
        Concat.self, Add.self, Multiply.self,
    ].map { ($0.name, $0 as any CombineOp.Type) })

    /// All op names, sorted.
    public static var names: [String] { (Array(layers.keys) + Array(combiners.keys)).sorted() }

    /// One line per op for `archlab ops`.
    public static var descriptions: [(name: String, summary: String)] {
        (layers.map { ($0.key, $0.value.summary) } + combiners.map { ($0.key, $0.value.summary) }).sorted { $0.0 < $1.0 }
    }
}
