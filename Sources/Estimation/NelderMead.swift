import QuantCore

/// Derivative-free minimisation (Nelder–Mead simplex with the standard coefficients), for
/// fitting a handful of model parameters to a handful of measurements. Deterministic.
enum NelderMead {
    static func minimize(_ f: ([Double]) -> Double, from start: [Double], step: Double = 0.5,
                         iterations: Int = 4000, tolerance: Double = 1e-12) -> (point: [Double], value: Double) {
        let n = start.count
        var simplex = [start] + (0..<n).map { i in
            var p = start
            p[i] += step
            return p
        }
        var values = simplex.map(f)
        for _ in 0..<iterations {
            let order = values.indices.sorted { values[$0] < values[$1] }
            simplex = order.map { simplex[$0] }
            values = order.map { values[$0] }
            if values[n] - values[0] <= tolerance * (abs(values[0]) + tolerance) { break }
            let centroid = (0..<n).map { i in simplex[0..<n].reduce(0) { $0 + $1[i] } / Double(n) }
            func along(_ t: Double) -> [Double] { (0..<n).map { centroid[$0] + t * (simplex[n][$0] - centroid[$0]) } }
            let reflected = along(-1), fr = f(reflected)
            if fr < values[0] {
                let expanded = along(-2), fe = f(expanded)
                (simplex[n], values[n]) = fe < fr ? (expanded, fe) : (reflected, fr)
            } else if fr < values[n - 1] {
                (simplex[n], values[n]) = (reflected, fr)
            } else {
                let contracted = fr < values[n] ? along(-0.5) : along(0.5)
                let fc = f(contracted)
                if fc < min(fr, values[n]) {
                    (simplex[n], values[n]) = (contracted, fc)
                } else {
                    for k in 1...n {
                        simplex[k] = (0..<n).map { simplex[0][$0] + 0.5 * (simplex[k][$0] - simplex[0][$0]) }
                        values[k] = f(simplex[k])
                    }
                }
            }
        }
        let best = values.indices.min { values[$0] < values[$1] }!
        return (simplex[best], values[best])
    }

    /// Restarts from the best point found until a restart no longer improves it: one simplex
    /// run often stalls on a ridge.
    static func minimizeWithRestarts(_ f: ([Double]) -> Double, from start: [Double], restarts: Int = 12) -> (point: [Double], value: Double) {
        var best = minimize(f, from: start)
        for _ in 0..<restarts {
            let next = minimize(f, from: best.point, step: 0.3)
            if next.value >= best.value * (1 - 1e-9) { break }
            best = next
        }
        return best
    }
}

extension NelderMead {
    /// The best of `minimizeWithRestarts` from `start` and from `count` further starting
    /// points spread around it (a fixed-seed generator: the same call gives the same fit).
    /// A restarted simplex only finds the basin it starts in; models whose terms trade off
    /// (a roofline's compute, traffic and overhead bounds) have several.
    static func minimizeFromSeveralStarts(_ f: ([Double]) -> Double, around start: [Double], count: Int, spread: Double = 1.5)
        -> (point: [Double], value: Double) {
        var generator = SplitMix64(seed: 0x5EED)
        var best = minimizeWithRestarts(f, from: start)
        for _ in 0..<count {
            let point = start.map { $0 + spread * generator.normal() }
            let candidate = minimizeWithRestarts(f, from: point)
            if candidate.value < best.value { best = candidate }
        }
        return best
    }
}
