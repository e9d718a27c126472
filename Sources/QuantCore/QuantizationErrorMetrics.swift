import Foundation

/// How far a quantized tensor is from the original, measured in one parallel pass over the
/// original bytes and the codes, without materialising the dequantized tensor.
///
/// - `sqnrDB` = 10·log10(Σw² / Σ(w − ŵ)²); `+∞` when the reconstruction is exact (callers
///   that emit JSON map it to null).
/// - `maxAbsError` = max |w − ŵ|.
/// - `cosine` = Σwŵ / (‖w‖‖ŵ‖); 1 when both are all zeros.
public struct QuantizationErrorMetrics: Sendable, Equatable {
    public var sqnrDB: Double
    public var maxAbsError: Double
    public var cosine: Double

    /// Sums over one chunk of elements, combined across chunks.
    private struct Partial {
        var signal = 0.0, noise = 0.0, dot = 0.0, reconstructed = 0.0, maxError = 0.0

        @inline(__always)
        mutating func add(original w: Double, reconstructed r: Double) {
            let e = w - r
            signal += w * w
            noise += e * e
            dot += w * r
            reconstructed += r * r
            maxError = max(maxError, abs(e))
        }

        static func sum(_ partials: [Partial]) -> Partial {
            partials.reduce(into: Partial()) { total, p in
                total.signal += p.signal
                total.noise += p.noise
                total.dot += p.dot
                total.reconstructed += p.reconstructed
                total.maxError = max(total.maxError, p.maxError)
            }
        }
    }

    public init(sqnrDB: Double, maxAbsError: Double, cosine: Double) {
        self.sqnrDB = sqnrDB
        self.maxAbsError = maxAbsError
        self.cosine = cosine
    }

    /// Compares little-endian weights of a floating `type` with their quantized form.
    public init(original bytes: UnsafeRawBufferPointer, type: ScalarType, quantized q: LinearQuantizedTensor) {
        let layout: BlockLayout
        do {
            layout = try BlockLayout(shape: q.shape, blockSizes: q.config.blockSizes(for: q.shape))
        } catch {
            preconditionFailure("a quantized tensor always has a valid block layout: \(error)")
        }
        guard let base = bytes.baseAddress, layout.elementCount > 0,
              let partial = try? withWeightSource(type, base, Measure(tensor: q, layout: layout)) else {
            self.init(sqnrDB: .infinity, maxAbsError: 0, cosine: 1)
            return
        }
        self.init(partial)
    }

    /// Compares little-endian weights of a floating `type` with any reconstruction of them
    /// (palettized, pruned, joint forms), element by element in row-major order.
    public init(original bytes: UnsafeRawBufferPointer, type: ScalarType, reconstructed: UnsafeBufferPointer<Float>) {
        guard let base = bytes.baseAddress, let r = reconstructed.baseAddress, !reconstructed.isEmpty,
              let partial = try? withWeightSource(type, base, CompareDense(reconstructed: r, count: reconstructed.count)) else {
            self.init(sqnrDB: .infinity, maxAbsError: 0, cosine: 1)
            return
        }
        self.init(partial)
    }

    private init(_ partial: Partial) {
        let sqnr = partial.noise == 0 ? Double.infinity : 10 * log10(partial.signal / partial.noise)
        let norms = (partial.signal * partial.reconstructed).squareRoot()
        self.init(sqnrDB: partial.signal == 0 && partial.noise == 0 ? .infinity : sqnr,
                  maxAbsError: partial.maxError,
                  cosine: norms == 0 ? (partial.signal == partial.reconstructed ? 1 : 0) : partial.dot / norms)
    }

    private struct CompareDense: WeightSourceVisitor {
        let reconstructed: UnsafePointer<Float>
        let count: Int

        func visit<Source: WeightSource>(_ source: Source) -> Partial {
            let chunks = ParallelChunks.chunkCount(items: count, unitsPerItem: 1)
            var partials = [Partial](repeating: Partial(), count: max(chunks, 1))
            partials.withUnsafeMutableBufferPointer { out in
                nonisolated(unsafe) let out = out
                let reconstructed = self.reconstructed
                ParallelChunks.forEach(count: count, chunks: chunks) { chunk, range in
                    var p = Partial()
                    for i in range {
                        p.add(original: Double(source[i]), reconstructed: Double(reconstructed[i]))
                    }
                    out[chunk] = p
                }
            }
            return Partial.sum(partials)
        }
    }

    private struct Measure: WeightSourceVisitor {
        let tensor: LinearQuantizedTensor
        let layout: BlockLayout

        func visit<Source: WeightSource>(_ source: Source) -> Partial {
            let chunks = ParallelChunks.chunkCount(items: layout.partitionSize, unitsPerItem: layout.elementsPerPartitionUnit)
            var partials = [Partial](repeating: Partial(), count: max(chunks, 1))
            let signed = tensor.config.dtype.isSigned
            tensor.codes.withUnsafeBufferPointer { codes in
                tensor.scales.withUnsafeBufferPointer { scales in
                    (tensor.zeroPoints ?? []).withUnsafeBufferPointer { zeroPoints in
                        partials.withUnsafeMutableBufferPointer { out in
                            nonisolated(unsafe) let out = out
                            ParallelChunks.forEach(count: layout.partitionSize, chunks: chunks) { chunk, range in
                                var p = Partial()
                                layout.forEachRun(in: range) { offset, firstBlock, length in
                                    let across = layout.run.kind == .across
                                    for i in 0..<length {
                                        let block = across ? firstBlock + i : firstBlock
                                        let code = codes[offset + i]
                                        let q = signed ? Double(Int8(bitPattern: code)) : Double(code)
                                        let zp = zeroPoints.isEmpty ? 0 : (signed ? Double(Int8(bitPattern: zeroPoints[block])) : Double(zeroPoints[block]))
                                        p.add(original: Double(source[offset + i]), reconstructed: (q - zp) * Double(scales[block]))
                                    }
                                }
                                out[chunk] = p
                            }
                        }
                    }
                }
            }
            return Partial.sum(partials)
        }
    }
}
