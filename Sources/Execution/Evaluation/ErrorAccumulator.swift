import Foundation

/// Running sums over pairs of float tensors — a reference (the float model) and a candidate
/// (the compressed one) — from which signal-to-noise ratio, cosine similarity and the largest
/// absolute error follow. Sums are kept in Double so thousands of samples do not lose the noise
/// under the signal.
public struct ErrorAccumulator: Sendable, Equatable {
    public private(set) var signalEnergy = 0.0
    public private(set) var noiseEnergy = 0.0
    public private(set) var candidateEnergy = 0.0
    public private(set) var dotProduct = 0.0
    public private(set) var maxAbsoluteError: Float = 0
    public private(set) var elementCount = 0

    public init() {}

    public mutating func add(reference: [Float], candidate: [Float]) {
        precondition(reference.count == candidate.count, "compared tensors differ in size")
        var signal = 0.0, noise = 0.0, energy = 0.0, dot = 0.0
        var largest: Float = 0
        reference.withUnsafeBufferPointer { r in
            candidate.withUnsafeBufferPointer { c in
                for i in 0..<r.count {
                    let a = Double(r[i]), b = Double(c[i])
                    let difference = a - b
                    signal += a * a
                    noise += difference * difference
                    energy += b * b
                    dot += a * b
                    largest = max(largest, abs(r[i] - c[i]))
                }
            }
        }
        signalEnergy += signal
        noiseEnergy += noise
        candidateEnergy += energy
        dotProduct += dot
        // NaN compares false with everything: a NaN in either tensor makes the error NaN, not 0.
        maxAbsoluteError = largest.isNaN || noise.isNaN ? .nan : max(maxAbsoluteError, largest)
        elementCount += reference.count
    }

    /// 10·log10(signal / noise); nil when the two were identical (no noise at all).
    public var snrDecibels: Double? {
        guard noiseEnergy > 0 || noiseEnergy.isNaN else { return nil }
        guard signalEnergy > 0 else { return -.infinity }
        return 10 * log10(signalEnergy / noiseEnergy)
    }

    /// 1 for identical directions; nil when either side is all zeros.
    public var cosine: Double? {
        let norms = (signalEnergy * candidateEnergy).squareRoot()
        return norms > 0 ? dotProduct / norms : nil
    }
}
