import Foundation

/// A number the estimators use, with where it comes from: a public source, a derivation, or
/// `fitted` (by `quantd calibrate` against published measurements) or `assumed`.
public struct Figure: Codable, Sendable, Equatable {
    public var value: Double
    public var source: String

    public init(_ value: Double, source: String) {
        self.value = value
        self.source = source
    }

    public var isFitted: Bool { source.hasPrefix("fitted") }
}

/// One compute unit of a device: its throughput and what it does with compressed weights.
public struct ComputeUnitProfile: Codable, Sendable, Equatable {
    /// Peak float16 throughput, TFLOPS (two per multiply-accumulate).
    public var fp16TFLOPS: Figure
    /// Throughput of int8×int8 products relative to float16 (W8A8).
    public var int8Speedup: Figure
    /// Whether compressed weights stay compressed in memory and are expanded as each op runs
    /// (the Neural Engine from iOS17), rather than expanded to float16 when the model loads.
    public var decompressesJustInTime: Bool
    /// Whether per-block int4/int8 weights run natively (iOS18 GPU); where false, ops with
    /// per-block weights fall back to another unit.
    public var runsPerBlockWeights: Bool

    /// Whether the unit runs int8 ops on int8 data (the Neural Engine, or any unit multiplying
    /// int8 faster than float16); otherwise it dequantizes around each op.
    public var runsInt8: Bool { int8Speedup.value > 1 || decompressesJustInTime }

    enum CodingKeys: String, CodingKey {
        case fp16TFLOPS = "fp16_tflops", int8Speedup = "int8_speedup"
        case decompressesJustInTime = "decompresses_just_in_time", runsPerBlockWeights = "runs_per_block_weights"
    }
}

public struct DeviceProfile: Codable, Sendable, Equatable {
    /// e.g. "iPhone 15 Pro"; Macs by chip name.
    public var name: String
    public var chip: String
    public var memoryGBps: Figure
    public var memoryGiB: Figure
    public var neuralEngine: ComputeUnitProfile
    public var gpu: ComputeUnitProfile
    public var cpu: ComputeUnitProfile

    enum CodingKeys: String, CodingKey {
        case name, chip, cpu, gpu
        case memoryGBps = "memory_gbps", memoryGiB = "memory_gib", neuralEngine = "neural_engine"
    }

    public func unit(_ kind: ProcessorKind) -> ComputeUnitProfile {
        switch kind {
        case .neuralEngine: neuralEngine
        case .gpu: gpu
        case .cpu: cpu
        }
    }
}

/// How far to trust a latency estimate, by how its figures were obtained.
public struct LatencyBands: Codable, Sendable, Equatable {
    /// ± percent for a device and unit that published rows were fitted on.
    public var calibratedPercent: Double
    /// ± percent for other devices' Neural Engines, scaled from the fitted ones by hardware figures.
    public var scaledPercent: Double
    /// ± percent for CPU and GPU, which no published row measures.
    public var uncalibratedPercent: Double

    enum CodingKeys: String, CodingKey {
        case calibratedPercent = "calibrated_percent", scaledPercent = "scaled_percent", uncalibratedPercent = "uncalibrated_percent"
    }
}

/// Everything the estimators read: devices, the shared fitted parameters, and the bands.
public struct DeviceCatalog: Codable, Sendable, Equatable {
    public var about: String
    public var latency: LatencyParameters
    public var accuracy: AccuracyParameters
    public var bands: LatencyBands
    /// The devices (by chip) whose published rows the latency parameters were fitted to.
    public var calibratedChips: [String]
    public var devices: [DeviceProfile]

    enum CodingKeys: String, CodingKey {
        case about, latency, accuracy, bands, devices
        case calibratedChips = "calibrated_chips"
    }

    public init(json data: Data) throws {
        self = try JSONDecoder().decode(DeviceCatalog.self, from: data)
        guard !devices.isEmpty else { throw DeviceCatalogError.invalid("the catalog lists no devices") }
        for device in devices {
            for (unit, profile) in [("neural_engine", device.neuralEngine), ("gpu", device.gpu), ("cpu", device.cpu)]
            where profile.fp16TFLOPS.value <= 0 || profile.int8Speedup.value <= 0 {
                throw DeviceCatalogError.invalid("\(device.name): \(unit) throughput must be positive")
            }
            guard device.memoryGBps.value > 0 else { throw DeviceCatalogError.invalid("\(device.name): memory_gbps must be positive") }
        }
    }

    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// A device by its name or chip, ignoring case ("iPhone 15 Pro", "A17 Pro", "m4").
    public func device(named name: String) -> DeviceProfile? {
        let key = name.lowercased()
        return devices.first { $0.name.lowercased() == key || $0.chip.lowercased() == key }
    }

    public func isCalibrated(_ device: DeviceProfile) -> Bool { calibratedChips.contains(device.chip) }
}

public enum DeviceCatalogError: Error, CustomStringConvertible {
    case invalid(String)

    public var description: String {
        switch self {
        case .invalid(let why): "invalid device catalog: \(why)"
        }
    }
}
