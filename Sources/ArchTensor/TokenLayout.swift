/// Which map position each attention token reads: a sample's `positions` map positions cut into
/// `sequences` sequences of `tokens` tokens. A vision transformer's tokens are one sequence in
/// order; Swin's are the windows of the cyclically shifted map.
public struct TokenLayout: Sendable, Equatable {
    /// Map positions per sample, sequences per sample, tokens per sequence.
    public let positions: Int, sequences: Int, tokens: Int
    /// `source[s · tokens + t]`: the map position token t of sequence s reads (a permutation of
    /// the positions).
    public let source: [Int32]

    /// All `tokens` positions of a sample as one sequence, in order.
    public static func sequence(tokens: Int) -> TokenLayout {
        TokenLayout(positions: tokens, sequences: 1, tokens: tokens, source: (0..<tokens).map(Int32.init))
    }

    /// Swin's windows (torchvision's `shifted_window_attention`): the `height × width` map rolled
    /// up by `rowShift` and left by `columnShift` (`torch.roll(x, (-rowShift, -columnShift))`), cut
    /// into `window × window` windows in row-major order, each window's tokens row-major. `window`
    /// divides both sides.
    public static func windows(height: Int, width: Int, window: Int, rowShift: Int, columnShift: Int) -> TokenLayout {
        precondition(window > 0 && height % window == 0 && width % window == 0, "window \(window) does not tile \(height)x\(width)")
        let across = width / window, down = height / window
        var source = [Int32]()
        source.reserveCapacity(height * width)
        for wy in 0..<down {
            for wx in 0..<across {
                for a in 0..<window {
                    for b in 0..<window {
                        let row = (wy * window + a + rowShift) % height, column = (wx * window + b + columnShift) % width
                        source.append(Int32(row * width + column))
                    }
                }
            }
        }
        return TokenLayout(positions: height * width, sequences: down * across, tokens: window * window, source: source)
    }

    /// `rows[(n · positions + i), c] = x[n, c, source[i]]` for the first `batch` samples.
    public func gather(_ x: Tensor, into rows: Tensor, batch: Int, channels: Int, parallel: Parallelism = .serial) {
        forEachToken(batch: batch, channels: channels, map: x, rows: rows, parallel: parallel) { position, row in
            for c in 0..<channels { row[c] = position[c * self.positions] }
        }
    }

    /// The inverse of `gather`: `y[n, c, source[i]] = rows[(n · positions + i), c]`, or `+=` with
    /// `accumulate`.
    public func scatter(_ rows: Tensor, into y: Tensor, batch: Int, channels: Int, accumulate: Bool, parallel: Parallelism = .serial) {
        forEachToken(batch: batch, channels: channels, map: y, rows: rows, parallel: parallel) { position, row in
            if accumulate {
                for c in 0..<channels { position[c * self.positions] += row[c] }
            } else {
                for c in 0..<channels { position[c * self.positions] = row[c] }
            }
        }
    }

    /// Calls `body(position, row)` for every token of the first `batch` samples: `position` points
    /// at the token's map position in channel 0 of `map` (channel c at `c · positions`), `row` at
    /// its row of `rows`. Sequences run in parallel; every token is one position and one row.
    @inline(__always)
    private func forEachToken(batch: Int, channels: Int, map: Tensor, rows: Tensor, parallel: Parallelism,
                              _ body: @Sendable (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        let positions = self.positions, tokens = self.tokens, sequences = self.sequences
        parallel.forEach(batch * sequences) { s in
            let n = s / sequences, first = (s % sequences) * tokens
            let sample = map.base + n * channels * positions
            self.source.withUnsafeBufferPointer { source in
                for t in 0..<tokens { body(sample + Int(source[first + t]), rows.base + (n * positions + first + t) * channels) }
            }
        }
    }
}

/// Swin's window tables (torchvision's `ShiftedWindowAttention` and `shifted_window_attention`).
public enum SwinWindows {
    /// torchvision's `relative_position_index` `[T · T]` (T = window²): entry `i · T + j` is the
    /// row of the bias table for query token i and key token j,
    /// `(Δrow + window − 1) · (2 · window − 1) + (Δcolumn + window − 1)`.
    public static func relativePositionIndex(window: Int) -> [Int] {
        let t = window * window
        var index = [Int](repeating: 0, count: t * t)
        for i in 0..<t {
            for j in 0..<t {
                let dRow = i / window - j / window + window - 1, dColumn = i % window - j % window + window - 1
                index[i * t + j] = dRow * (2 * window - 1) + dColumn
            }
        }
        return index
    }

    /// The bias `[heads, T, T]` from the table `[(2·window − 1)², heads]`.
    public static func expandBias(table: Tensor, index: [Int], heads: Int, into bias: Tensor) {
        let tt = index.count
        for h in 0..<heads { for e in 0..<tt { bias.base[h * tt + e] = table.base[index[e] * heads + h] } }
    }

    /// The table's gradient from the bias's: `dTable[index[e], h] += dBias[h, e]`, in index order.
    public static func foldBias(gradient dBias: Tensor, index: [Int], heads: Int, into dTable: Tensor) {
        let tt = index.count
        for h in 0..<heads { for e in 0..<tt { dTable.base[index[e] * heads + h] += dBias.base[h * tt + e] } }
    }

    /// The attention mask `[windows, T, T]` of a shifted map: 0 between tokens that came from the
    /// same one of the nine regions the roll brings together, −100 across regions (torchvision's
    /// value). Empty when neither shift is positive.
    public static func shiftMask(height: Int, width: Int, window: Int, rowShift: Int, columnShift: Int) -> [Float] {
        guard rowShift > 0 || columnShift > 0 else { return [] }
        func region(_ i: Int, _ size: Int, _ shift: Int) -> Int { i < size - window ? 0 : i < size - shift ? 1 : 2 }
        let across = width / window, down = height / window, t = window * window
        var mask = [Float](repeating: 0, count: down * across * t * t)
        for wy in 0..<down {
            for wx in 0..<across {
                let labels = (0..<t).map {
                    region(wy * window + $0 / window, height, rowShift) * 3 + region(wx * window + $0 % window, width, columnShift)
                }
                let base = (wy * across + wx) * t * t
                for i in 0..<t { for j in 0..<t where labels[i] != labels[j] { mask[base + i * t + j] = -100 } }
            }
        }
        return mask
    }

    /// torchvision's `_patch_merging_pad`: `[N, C, H, W]` to `[N, 4C, ⌈H/2⌉, ⌈W/2⌉]`, the channel
    /// groups in the order (even row, even column), (odd, even), (even, odd), (odd, odd); positions
    /// past an odd edge read zeros.
    public static func mergePatches(x: Tensor, y: Tensor, channels: Int, height: Int, width: Int, parallel: Parallelism = .serial) {
        let n = x.shape[0], outH = (height + 1) / 2, outW = (width + 1) / 2
        parallel.forEach(n * 4 * channels) { plane in
            let s = plane / (4 * channels), group = (plane / channels) % 4, c = plane % channels
            let dRow = group % 2, dColumn = group / 2
            let src = x.base + (s * channels + c) * height * width, dst = y.base + plane * outH * outW
            for i in 0..<outH {
                let row = 2 * i + dRow
                for j in 0..<outW {
                    let column = 2 * j + dColumn
                    dst[i * outW + j] = row < height && column < width ? src[row * width + column] : 0
                }
            }
        }
    }

    /// The gradient of `mergePatches`: dx written or, with `accumulate`, added to.
    public static func mergePatchesBackward(dy: Tensor, dx: Tensor, channels: Int, height: Int, width: Int, accumulate: Bool,
                                            parallel: Parallelism = .serial) {
        let n = dx.shape[0], outH = (height + 1) / 2, outW = (width + 1) / 2
        parallel.forEach(n * 4 * channels) { plane in
            let s = plane / (4 * channels), group = (plane / channels) % 4, c = plane % channels
            let dRow = group % 2, dColumn = group / 2
            let dst = dx.base + (s * channels + c) * height * width, src = dy.base + plane * outH * outW
            for i in 0..<outH {
                let row = 2 * i + dRow
                guard row < height else { continue }
                for j in 0..<outW {
                    let column = 2 * j + dColumn
                    guard column < width else { continue }
                    dst[row * width + column] = accumulate ? dst[row * width + column] + src[i * outW + j] : src[i * outW + j]
                }
            }
        }
    }
}
