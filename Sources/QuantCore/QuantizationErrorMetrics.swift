import CQuantKernels
import Foundation

/// How far a quantized tensor is from the original, measured in one parallel pass over the
/// original bytes and the codes, without materialising the dequantized tensor.
///
/// - `sqnrDB` = 10·log10(Σw² / Σ(w − ŵ)²); `+∞` when the reconstruction is exact (callers
///   that emit JSON map it to null).
/// - `maxAbsError` = max |w − ŵ|.
/// - `cosine` = Σwŵ / (‖w‖‖ŵ‖); 1 when both are all zeros.
/// - `sparsity` = the fraction of reconstructed weights that are exactly zero.
public struct QuantizationErrorMetrics: Sendable, Equatable {
    public var sqnrDB: Double
    public var maxAbsError: Double
    public var cosine: Double
    public var sparsity: Double

    /// Sums over one chunk of elements, combined across chunks.
    /// Eight-lane Float accumulators of `Partial`'s sums (`maxSquare` holds squared errors).
    fileprivate struct Lanes {
        var signal = SIMD8<Float>(), noise = SIMD8<Float>(), dot = SIMD8<Float>(), energy = SIMD8<Float>()
        var maxSquare = SIMD8<Float>(), zeros = SIMD8<Float>()
        var pending = 0

        mutating func flush(into p: inout Partial) {
            p.signal += Double(signal.sum())
            p.noise += Double(noise.sum())
            p.dot += Double(dot.sum())
            p.reconstructed += Double(energy.sum())
            var largest: Float = 0
            for k in 0..<8 where maxSquare[k] > largest { largest = maxSquare[k] }
            p.maxError = max(p.maxError, Double(largest).squareRoot())
            p.zeros += Int(zeros.sum().rounded())
            self = Lanes()
        }
    }

    /// `Lanes` as the vector kernels keep them.
    struct KernelLanes {
        var sums = qk_lanes()
        var pending = 0

        mutating func flush(into p: inout Partial) {
            Self.add(sums, into: &p)
            self = KernelLanes()
        }

        static func add(_ sums: qk_lanes, into p: inout Partial) {
            withUnsafeBytes(of: sums) { raw in
                // qk_lanes is only Float-aligned: load, do not bind, as SIMD8.
                let v = { (field: Int) in raw.loadUnaligned(fromByteOffset: field * 32, as: SIMD8<Float>.self) }
                p.signal += Double(v(0).sum())
                p.noise += Double(v(1).sum())
                p.dot += Double(v(2).sum())
                p.reconstructed += Double(v(3).sum())
                p.maxError = max(p.maxError, Double(v(4).max()).squareRoot())
                p.zeros += Int(v(5).sum().rounded())
            }
        }
    }

    struct Partial {
        var signal = 0.0, noise = 0.0, dot = 0.0, reconstructed = 0.0, maxError = 0.0
        var zeros = 0

        @inline(__always)
        mutating func add(original w: Double, reconstructed r: Double) {
            let e = w - r
            signal += w * w
            noise += e * e
            dot += w * r
            reconstructed += r * r
            maxError = max(maxError, abs(e))
            zeros += r == 0 ? 1 : 0
        }

        /// Adds elements `lo..<hi` of one block into `lanes`, eight at a time: Float lane sums
        /// break the per-element dependency chain of scalar accumulation (Swift does not
        /// reassociate float adds on its own). The lanes carry across short runs (per-block
        /// quantization has runs of 32) and are flushed into Double every ~1024 elements.
        @inline(__always)
        fileprivate mutating func addRun<Source: WeightSource>(_ source: Source, _ codes: UnsafeBufferPointer<UInt8>, from lo: Int, to hi: Int,
                                                   scale: Float, zeroPoint: Float, signed: Bool, lanes: inout Lanes,
                                                   _ integer: (UInt8) -> Float) {
            let vscale = SIMD8<Float>(repeating: scale), vzp = SIMD8<Float>(repeating: zeroPoint)
            let bias = SIMD8<Float>(repeating: signed ? 8_388_736 : 8_388_608)
            var i = lo
            while i + 8 <= hi {
                let w = source.vector8(at: i)
                // Bytes to floats through the bit pattern 2^23 + b (exact), without lane-by-lane
                // inserts; signed codes are biased by 128 first.
                let bytes = SIMD8<UInt32>(truncatingIfNeeded: UnsafeRawPointer(codes.baseAddress! + i).loadUnaligned(as: SIMD8<UInt8>.self))
                var q = unsafeBitCast((signed ? bytes ^ 0x80 : bytes) | 0x4B00_0000, to: SIMD8<Float>.self) - bias
                q -= vzp
                let r = q * vscale
                let e = w - r
                lanes.signal += w * w
                lanes.noise += e * e
                lanes.dot += w * r
                lanes.energy += r * r
                // max and zero tests by arithmetic: mask-based SIMD selects are slow in Swift.
                let e2 = e * e
                let gap = unsafeBitCast(unsafeBitCast(e2 - lanes.maxSquare, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: SIMD8<Float>.self)
                lanes.maxSquare = (e2 + lanes.maxSquare + gap) * 0.5
                // q is an integer: |q| ≥ 1 unless it is 0, so 1 − min(1, |q|) counts the zeros.
                let magnitude = unsafeBitCast(unsafeBitCast(q, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: SIMD8<Float>.self)
                lanes.zeros += 1 - (magnitude + 1 - unsafeBitCast(unsafeBitCast(magnitude - 1, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: SIMD8<Float>.self)) * 0.5
                i &+= 8
            }
            lanes.pending &+= i &- lo
            while i < hi {
                let q = integer(codes[i]) - zeroPoint
                add(original: Double(source[i]), reconstructed: Double(q * scale))
                i &+= 1
            }
            if lanes.pending >= 1024 { lanes.flush(into: &self) }
        }

        /// `addRun` through the vector kernels, the tail of fewer than eight in Double.
        @inline(__always)
        mutating func addRun<Source: WeightSource>(_ kernels: VectorKernels, _ codes: UnsafeBufferPointer<UInt8>, from lo: Int, to hi: Int,
                                                   scale: Float, zeroPoint: Float, signed: Bool, lanes: inout KernelLanes,
                                                   _ source: Source, _ integer: (UInt8) -> Float) {
            let done = kernels.measure(offset: lo, count: hi - lo, codes: codes.baseAddress!, scale: scale,
                                       zeroPoint: zeroPoint, signed: signed, lanes: &lanes.sums)
            lanes.pending &+= done
            for i in (lo + done)..<hi {
                let q = integer(codes[i]) - zeroPoint
                add(original: Double(source[i]), reconstructed: Double(q * scale))
            }
            if lanes.pending >= 1024 { lanes.flush(into: &self) }
        }

        static func sum(_ partials: [Partial]) -> Partial {
            partials.reduce(into: Partial()) { total, p in
                total.signal += p.signal
                total.noise += p.noise
                total.dot += p.dot
                total.reconstructed += p.reconstructed
                total.maxError = max(total.maxError, p.maxError)
                total.zeros += p.zeros
            }
        }
    }

    public init(sqnrDB: Double, maxAbsError: Double, cosine: Double, sparsity: Double) {
        self.sqnrDB = sqnrDB
        self.maxAbsError = maxAbsError
        self.cosine = cosine
        self.sparsity = sparsity
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
            self.init(sqnrDB: .infinity, maxAbsError: 0, cosine: 1, sparsity: 0)
            return
        }
        self.init(partial, count: layout.elementCount)
    }

    /// Compares little-endian weights of a floating `type` with any reconstruction of them
    /// (palettized, pruned, joint forms), element by element in row-major order.
    public init(original bytes: UnsafeRawBufferPointer, type: ScalarType, reconstructed: UnsafeBufferPointer<Float>) {
        guard let base = bytes.baseAddress, let r = reconstructed.baseAddress, !reconstructed.isEmpty,
              let partial = try? withWeightSource(type, base, CompareDense(reconstructed: r, count: reconstructed.count)) else {
            self.init(sqnrDB: .infinity, maxAbsError: 0, cosine: 1, sparsity: 0)
            return
        }
        self.init(partial, count: reconstructed.count)
    }

    /// Compares weights with their pruned form (kept where `mask` says, zero elsewhere),
    /// without materialising the pruned tensor.
    public init(original bytes: UnsafeRawBufferPointer, type: ScalarType, pruned: PrunedTensor) {
        guard let base = bytes.baseAddress, pruned.count > 0,
              let partial = try? withWeightSource(type, base, CompareMasked(mask: pruned.mask, count: pruned.count)) else {
            self.init(sqnrDB: .infinity, maxAbsError: 0, cosine: 1, sparsity: 0)
            return
        }
        self.init(partial, count: pruned.count)
    }

    init(_ partial: Partial, count: Int) {
        let sqnr = partial.noise == 0 ? Double.infinity : 10 * log10(partial.signal / partial.noise)
        let norms = (partial.signal * partial.reconstructed).squareRoot()
        self.init(sqnrDB: partial.signal == 0 && partial.noise == 0 ? .infinity : sqnr,
                  maxAbsError: partial.maxError,
                  cosine: norms == 0 ? (partial.signal == partial.reconstructed ? 1 : 0) : partial.dot / norms,
                  sparsity: Double(partial.zeros) / Double(max(1, count)))
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

    private struct CompareMasked: WeightSourceVisitor {
        let mask: [UInt8]
        let count: Int

        func visit<Source: WeightSource>(_ source: Source) -> Partial {
            let bytes = (count + 7) / 8
            let chunks = ParallelChunks.chunkCount(items: bytes, unitsPerItem: 8)
            var partials = [Partial](repeating: Partial(), count: max(chunks, 1))
            mask.withUnsafeBufferPointer { mask in
                partials.withUnsafeMutableBufferPointer { out in
                    nonisolated(unsafe) let out = out
                    let count = self.count
                    ParallelChunks.forEach(count: bytes, chunks: chunks) { chunk, range in
                        // Kept elements are reproduced exactly: they add signal and energy,
                        // dropped ones add signal and noise.
                        var signal = 0.0, noise = 0.0, maxError = 0.0
                        var zeros = 0
                        for byte in range {
                            let bits = mask[byte]
                            for bit in 0..<min(8, count - byte * 8) {
                                let w = Double(source[byte * 8 + bit])
                                signal += w * w
                                if bits & (1 << bit) == 0 {
                                    noise += w * w
                                    maxError = max(maxError, abs(w))
                                    zeros += 1
                                }
                            }
                        }
                        var p = Partial()
                        p.signal = signal
                        p.noise = noise
                        p.dot = signal - noise
                        p.reconstructed = signal - noise
                        p.maxError = maxError
                        p.zeros = zeros
                        out[chunk] = p
                    }
                }
            }
            return Partial.sum(partials)
        }
    }

    /// One chunk's sums over runs of one block each (a `.within` run: a channel, or a block
    /// of a per-block layout), in the order they are added. Runs are summed in Float lanes over
    /// stretches of at most 1024 elements, then carried in Double. `Code` is the integer type
    /// the code bytes stand for. Quantizing can add each run as soon as its codes are written,
    /// while they and the weights are still in cache; the sums are the same either way.
    struct RunAccumulator<Code: FixedWidthInteger> {
        fileprivate(set) var partial = Partial()
        private var lanes = Lanes()
        private var kernelLanes = KernelLanes()

        @inline(__always)
        mutating func add<Source: WeightSource>(_ source: Source, _ kernels: VectorKernels?, _ codes: UnsafeBufferPointer<UInt8>,
                                                offset: Int, length: Int, scale: Float, zeroPoint: Float) {
            @inline(__always) func integer(_ byte: UInt8) -> Float { Float(Code(truncatingIfNeeded: byte)) }
            var start = 0
            while start < length {
                let end = min(length, start + 1024)
                if let kernels {
                    partial.addRun(kernels, codes, from: offset + start, to: offset + end, scale: scale,
                                   zeroPoint: zeroPoint, signed: Code.isSigned, lanes: &kernelLanes, source, integer)
                } else {
                    partial.addRun(source, codes, from: offset + start, to: offset + end, scale: scale, zeroPoint: zeroPoint,
                                   signed: Code.isSigned, lanes: &lanes, integer)
                }
                start = end
            }
        }

        /// Lets a kernel that measures whole runs and flushes by itself
        /// (`qk_quantize_symmetric_runs`) add into the kernel lanes: `body` gets the lanes,
        /// their pending count, and the flush function with its context.
        @inline(__always)
        mutating func addKernelRuns(_ body: (UnsafeMutablePointer<qk_lanes>, inout Int, qk_flush, UnsafeMutableRawPointer) -> Void) {
            withUnsafeMutablePointer(to: &partial) { partial in
                withUnsafeMutablePointer(to: &kernelLanes.sums) { sums in
                    body(sums, &kernelLanes.pending, { lanes, context in
                        KernelLanes.add(lanes!.pointee, into: &context!.assumingMemoryBound(to: Partial.self).pointee)
                    }, UnsafeMutableRawPointer(partial))
                }
            }
        }

        mutating func finish() -> Partial {
            lanes.flush(into: &partial)
            kernelLanes.flush(into: &partial)
            return partial
        }
    }

    private struct Measure: WeightSourceVisitor {
        let tensor: LinearQuantizedTensor
        let layout: BlockLayout

        func visit<Source: WeightSource>(_ source: Source) -> Partial {
            tensor.config.dtype.isSigned ? measure(source, Int8.self) : measure(source, UInt8.self)
        }

        /// `Code` is the integer type the code bytes stand for, fixed per call so the inner
        /// loop has no branch on signedness.
        private func measure<Source: WeightSource, Code: FixedWidthInteger>(_ source: Source, _: Code.Type) -> Partial {
            let chunks = ParallelChunks.chunkCount(items: layout.partitionSize, unitsPerItem: layout.elementsPerPartitionUnit)
            var partials = [Partial](repeating: Partial(), count: max(chunks, 1))
            let kernels = source.vectorKernels
            @inline(__always) func integer(_ byte: UInt8) -> Float { Float(Code(truncatingIfNeeded: byte)) }
            tensor.codes.withUnsafeBufferPointer { codes in
                tensor.scales.withUnsafeBufferPointer { scales in
                    (tensor.zeroPoints ?? []).withUnsafeBufferPointer { zeroPoints in
                        partials.withUnsafeMutableBufferPointer { out in
                            nonisolated(unsafe) let out = out
                            ParallelChunks.forEach(count: layout.partitionSize, chunks: chunks) { chunk, range in
                                var accumulator = RunAccumulator<Code>()
                                layout.forEachRun(in: range) { offset, firstBlock, length in
                                    guard layout.run.kind == .within else {
                                        for i in 0..<length {
                                            let block = firstBlock + i
                                            let zp = zeroPoints.isEmpty ? 0 : integer(zeroPoints[block])
                                            let r = (integer(codes[offset + i]) - zp) * scales[block]
                                            accumulator.partial.add(original: Double(source[offset + i]), reconstructed: Double(r))
                                        }
                                        return
                                    }
                                    let zp = zeroPoints.isEmpty ? 0 : integer(zeroPoints[firstBlock])
                                    accumulator.add(source, kernels, codes, offset: offset, length: length,
                                                    scale: scales[firstBlock], zeroPoint: zp)
                                }
                                out[chunk] = accumulator.finish()
                            }
                        }
                    }
                }
            }
            return Partial.sum(partials)
        }
    }
}
