import ArgumentParser
import Foundation
import Service

struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Check the device catalog against Apple's published measurements, or fit it to them (--write).",
        discussion: "FIXTURES holds ResNet50.mlpackage.zip and MobileNetV2-1.0.mlpackage.zip from Tests/oracle/fixtures/make_reference_nets.py. scripts/calibrate and scripts/validate-estimates run this for you.")

    @Argument(help: "Directory with the reference-network fixture packages.")
    var fixtures: String

    @Option(name: .long, help: "A published-measurements file; repeat for several (default: both files of config/calibration).")
    var published: [String] = ["config/calibration/published-results.json", "config/calibration/published-results-ios18.json"]

    @Option(name: .long, help: "The device catalog to check or rewrite.")
    var devices = "config/devices.json"

    @Flag(name: .long, help: "Fit the catalog's fitted figures to the published rows and rewrite it.")
    var write = false

    mutating func run() throws {
        do {
            let validation = try EstimateCalibration.run(fixtures: fixtures, published: published, devices: devices, write: write)
            print(EstimateCalibration.text(validation))
            if !validation.meetsTargets { throw ExitCode(1) }
        } catch let problem as Problem {
            throw ValidationError(problem.detail)
        }
    }
}
