/// Layout changes between the kernels' tensors.
enum Layout {
    /// `n` matrices of `rows` x `columns` -> `columns` x `rows` each ([N, C, P] -> [N, P, C] and
    /// back); `add` accumulates into `dst`. Parallel over the matrices, in 16 x 16 tiles.
    static func transpose(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, n: Int, rows: Int, columns: Int,
                          add: Bool = false, parallel: Parallelism) {
        let s = SharedPointer(UnsafeMutablePointer(mutating: src)), d = SharedPointer(dst)
        parallel.forEach(n) { sample in
            let from = s.base + sample * rows * columns, to = d.base + sample * rows * columns
            let block = 16
            var r0 = 0
            while r0 < rows {
                let r1 = min(rows, r0 + block)
                var c0 = 0
                while c0 < columns {
                    let c1 = min(columns, c0 + block)
                    if add {
                        for r in r0..<r1 { for c in c0..<c1 { to[c &* rows &+ r] += from[r &* columns &+ c] } }
                    } else {
                        for r in r0..<r1 { for c in c0..<c1 { to[c &* rows &+ r] = from[r &* columns &+ c] } }
                    }
                    c0 = c1
                }
                r0 = r1
            }
        }
    }

}
