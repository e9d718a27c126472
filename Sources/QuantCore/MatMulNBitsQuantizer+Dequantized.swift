extension MatMulNBitsQuantizer.Result {
    /// The `[k, n]` weight `MatMulNBits` computes with: `(code − zero point) · scale` per
    /// block, the zero point the middle code when none is stored (symmetric).
    public func dequantized(bits: Int, blockSize: Int) -> [Float] {
        var values = [Float](repeating: 0, count: k * n)
        let blob = blockSize * bits / 8
        let zeroPointRow = (blockCount * bits + 7) / 8
        let middle = Float(1 << (bits - 1))
        for column in 0..<n {
            for block in 0..<blockCount {
                let scale = scales[column * blockCount + block]
                var zeroPoint = middle
                if let zeroPoints {
                    let byte = zeroPoints[column * zeroPointRow + (bits == 8 ? block : block / 2)]
                    zeroPoint = Float(bits == 8 ? byte : block % 2 == 0 ? byte & 0x0F : byte >> 4)
                }
                let base = (column * blockCount + block) * blob
                for j in 0..<blockSize {
                    let row = block * blockSize + j
                    guard row < k else { break }
                    let code = bits == 8 ? packed[base + j] : j % 2 == 0 ? packed[base + j / 2] & 0x0F : packed[base + j / 2] >> 4
                    values[row * n + column] = (Float(code) - zeroPoint) * scale
                }
            }
        }
        return values
    }
}
