import Estimation
import Foundation
import QuantCore

/// The body of `POST /v1/estimate` (and the options of `quantd estimate`), validated: which
/// configs to compare, on which devices, against which target and accuracy budget.
struct EstimateRequest {
    var modelID: String?
    /// `evaluation.dataset_id`: measure every config on these samples.
    var datasetID: String?
    var candidates: [EstimateSweep.Candidate]
    var sweep: EstimateSweep

    static let fields = ["model_id", "configs", "sweep", "device", "compute_units", "devices", "accuracy_budget", "int8_activations",
                         "minimum_deployment_target", "os", "evaluation"]

    init(_ dict: [String: Any], catalog: DeviceCatalog) throws {
        if let unknown = dict.keys.sorted().first(where: { !Self.fields.contains($0) }) {
            throw Problem.invalidRequest("unknown field '\(unknown)'; an estimate takes \(Self.fields.joined(separator: ", "))", field: unknown)
        }
        modelID = dict["model_id"] as? String
        datasetID = try dict["evaluation"].map(APIResponder.evaluationDatasetID)
        let int8 = try Self.bool(dict["int8_activations"], field: "int8_activations") ?? false
        candidates = try Self.candidates(configs: dict["configs"], sweep: dict["sweep"], int8Activations: int8)

        func device(_ value: Any?, field: String) throws -> DeviceProfile {
            guard let name = value as? String else { throw Problem.invalidRequest("\(field) must be a device name", field: field) }
            guard let d = catalog.device(named: name) else {
                throw Problem.invalidRequest("unknown device '\(name)'; GET /v1/devices lists them: \(catalog.devices.map(\.name).joined(separator: ", "))", field: field)
            }
            return d
        }
        // By default the newest device published measurements were fitted on (iPhone 15 Pro).
        let target = try dict["device"].map { try device($0, field: "device") }
            ?? catalog.calibratedChips.last.flatMap(catalog.device(named:)) ?? catalog.devices[0]
        var units = ComputeUnits.all
        if let value = dict["compute_units"] {
            guard let text = value as? String, let u = ComputeUnits(rawValue: text) else {
                throw Problem.invalidRequest("compute_units must be one of \(ComputeUnits.allCases.map(\.rawValue).joined(separator: ", "))", field: "compute_units")
            }
            units = u
        }
        var devices = catalog.devices
        if let list = dict["devices"] {
            guard let names = list as? [Any], !names.isEmpty else { throw Problem.invalidRequest("devices must be a non-empty list of device names", field: "devices") }
            devices = try names.map { try device($0, field: "devices") }
            if !devices.contains(target) { devices.append(target) }
        }
        var budget = 1.0
        if let value = dict["accuracy_budget"] {
            guard let n = value as? NSNumber, !Self.isBoolean(n), n.doubleValue >= 0, n.doubleValue.isFinite else {
                throw Problem.invalidRequest("accuracy_budget is the largest top-1 loss accepted, in points: a number ≥ 0", field: "accuracy_budget")
            }
            budget = n.doubleValue
        }
        sweep = EstimateSweep(catalog: catalog, devices: devices, units: ComputeUnits.allCases, target: target, targetUnits: units, budget: budget,
                              minimumDeploymentTarget: try dict["minimum_deployment_target"].map(CoreMLCompressor.deploymentTarget(named:)))
        if let value = dict["os"] {
            guard let name = value as? String, let os = OSRelease(name: name) else {
                throw Problem.invalidRequest("os is the runtime to estimate for: one of \(OSRelease.names.joined(separator: ", ")) (default \(OSRelease.newest.rawValue))", field: "os")
            }
            sweep.os = os
            if let target = sweep.minimumDeploymentTarget, target > os.opset {
                let needed = OSRelease.allCases.first { $0.opset >= target } ?? .newest
                // Each field is valid alone; together they describe a model the runtime cannot load.
                throw Problem.invalidConfig("minimum_deployment_target \(dict["minimum_deployment_target"] ?? "") makes a model that \(name) cannot load: give os \(needed.rawValue) (or \(needed.macOSName)), or an older target", field: "os")
            }
        }
    }

    private static func bool(_ value: Any?, field: String) throws -> Bool? {
        guard let value else { return nil }
        guard let n = value as? NSNumber, isBoolean(n) else { throw Problem.invalidRequest("\(field) must be true or false", field: field) }
        return n.boolValue
    }

    /// JSON booleans and numbers both arrive as NSNumber; only the type code tells them apart.
    private static func isBoolean(_ number: NSNumber) -> Bool { String(cString: number.objCType) == "c" }

    /// `configs`: a list of preset names, or an object of name → preset name or coremltools
    /// config; else `sweep: "default"` (also when neither is given).
    static func candidates(configs: Any?, sweep: Any?, int8Activations: Bool) throws -> [EstimateSweep.Candidate] {
        func preset(_ name: String) throws -> EstimateSweep.Candidate {
            do { return .init(name: name, pipeline: try APIResponder.preset(name).config, int8Activations: int8Activations) } catch let p as Problem {
                throw Problem.invalidRequest(p.detail, field: "configs")
            }
        }
        switch (configs, sweep) {
        case (.some, .some):
            throw Problem.invalidRequest("give configs or sweep, not both", field: "sweep")
        case (let list as [Any], nil):
            guard !list.isEmpty else { throw Problem.invalidRequest("configs is empty", field: "configs") }
            return try list.map { item in
                guard let name = item as? String else { throw Problem.invalidRequest("a configs list holds preset names; use an object for full configs", field: "configs") }
                return try preset(name)
            }
        case (let object as [String: Any], nil):
            guard !object.isEmpty else { throw Problem.invalidRequest("configs is empty", field: "configs") }
            return try object.keys.sorted().map { name in
                if let presetName = object[name] as? String { return try preset(presetName) }
                do { return .init(name: name, pipeline: try CompressionPipeline(value: object[name]!), int8Activations: int8Activations) } catch let error as OptimizationConfig.Invalid {
                    throw Problem.invalidConfig("configs.\(name): \(error.message)", field: "configs.\(name).\(error.field)")
                }
            }
        case (.some, nil):
            throw Problem.invalidRequest("configs must be a list of preset names or an object of name → config", field: "configs")
        case (nil, let name):
            guard name == nil || (name as? String) == "default" else {
                throw Problem.invalidRequest("the only named sweep is \"default\" (\(EstimateSweep.defaultSweep.joined(separator: ", ")))", field: "sweep")
            }
            return try EstimateSweep.defaultSweep.map(preset)
        }
    }
}
