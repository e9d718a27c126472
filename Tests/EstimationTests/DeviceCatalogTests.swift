import Foundation
import Testing
@testable import Estimation

/// The repository's config/devices.json, which the service and the estimators read.
enum RepositoryCatalog {
    static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("config/devices.json").path

    static func load() throws -> DeviceCatalog {
        try DeviceCatalog(json: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

@Suite("Device catalog")
struct DeviceCatalogTests {
    @Test("config/devices.json lists the chips the estimates promise, each by name and chip")
    func listsTheDevices() throws {
        let catalog = try RepositoryCatalog.load()
        for chip in ["A14", "A15", "A16", "A17 Pro", "A18 Pro", "M1", "M2", "M3", "M4", "M1 Max"] {
            #expect(catalog.device(named: chip) != nil, "\(chip) is missing")
        }
        #expect(catalog.device(named: "iphone 15 pro")?.chip == "A17 Pro")
        #expect(catalog.device(named: "iPhone 14 Pro")?.chip == "A16")
        #expect(catalog.device(named: "Pixel 8") == nil)
    }

    @Test("every figure names its source, and the fitted ones say so")
    func everyFigureHasASource() throws {
        let catalog = try RepositoryCatalog.load()
        var figures: [Figure] = []
        for d in catalog.devices {
            figures += [d.memoryGBps, d.memoryGiB] + [d.neuralEngine, d.gpu, d.cpu].flatMap { [$0.fp16TFLOPS, $0.int8Speedup] }
        }
        for u in [catalog.latency.neuralEngine, catalog.latency.gpu, catalog.latency.cpu] {
            figures += [u.efficiency, u.depthwiseEfficiency, u.activationBandwidthFactor, u.weightBandwidthFactor,
                        u.decompressionNanosecondsPerWeight, u.opOverheadMicroseconds, u.fixedOverheadMilliseconds]
        }
        let ios18 = catalog.latency.neuralEngineIOS18
        figures += [ios18.weightBandwidthFactor, ios18.decompressionNanosecondsPerWeight, ios18.sparseSkipDensity]
        let accuracy = catalog.accuracy
        figures += [accuracy.noiseCoefficient, accuracy.noiseExponent, accuracy.depthwiseSensitivity, accuracy.edgeSensitivity,
                    accuracy.attentionSensitivity, accuracy.bandPoints, accuracy.bandFraction, accuracy.extrapolationBandFactor]
        #expect(figures.allSatisfy { !$0.source.trimmingCharacters(in: .whitespaces).isEmpty })
        #expect(catalog.latency.neuralEngine.efficiency.isFitted)
        #expect(catalog.accuracy.noiseCoefficient.isFitted)
        #expect(Set(catalog.calibratedChips) == ["A16", "A17 Pro"])
        #expect(catalog.latency.neuralEngineIOS18.weightBandwidthFactor.isFitted)
        #expect(catalog.accuracy.noiseExponent.isFitted)
        // The int8 rate is Apple's published figure, not fitted: twice float16 from A17 Pro on.
        for chip in ["A17 Pro", "A18 Pro", "M4"] { #expect(catalog.device(named: chip)?.neuralEngine.int8Speedup.value == 2) }
        for chip in ["A16", "M1", "M3"] { #expect(catalog.device(named: chip)?.neuralEngine.int8Speedup.value == 1) }
        #expect(catalog.devices.allSatisfy { !$0.neuralEngine.int8Speedup.isFitted })
    }

    @Test("a catalog with a non-positive throughput or no devices is refused")
    func refusesNonsense() throws {
        var catalog = try RepositoryCatalog.load()
        catalog.devices[0].gpu.fp16TFLOPS.value = 0
        #expect(throws: DeviceCatalogError.self) { try DeviceCatalog(json: try catalog.json()) }
        catalog.devices = []
        #expect(throws: DeviceCatalogError.self) { try DeviceCatalog(json: try catalog.json()) }
        #expect(throws: (any Error).self) { try DeviceCatalog(json: Data("{}".utf8)) }
    }

    @Test("the catalog survives a write and a read unchanged")
    func roundTrip() throws {
        let catalog = try RepositoryCatalog.load()
        #expect(try DeviceCatalog(json: try catalog.json()) == catalog)
    }
}
