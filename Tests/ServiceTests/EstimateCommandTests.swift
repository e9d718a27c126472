import Foundation
import Testing

/// `quantd estimate` on a local file, through the real binary.
@Suite("quantd estimate")
struct EstimateCommandTests {
    func write(_ bytes: [UInt8]) throws -> String {
        let path = try makeTemporaryDirectory("quantd-estimate") + "/net.mlpackage.zip"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("prints the comparison table with the recommendation, keeping the configs' order")
    func table() throws {
        let path = try write(PackageFixture.linearProgram(weights: [256, 512]))
        let result = try Subprocess.run(QuantdProcess.binary, ["estimate", path, "--device", "M4", "--compute-units", "cpuAndNeuralEngine",
                                                              "--config", "w8", "--config", "palettize-4", "--accuracy-budget", "100", "--os", "macOS14"],
                                        in: Repository.root)
        let text = String(decoding: result.stdout, as: UTF8.self)
        #expect(result.exitCode == 0, "\(result.stderr)")
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("MacBook Pro (M4), iOS17/macOS14 runtime, compute units cpuAndNeuralEngine") == true, "\(text)")
        let rows = lines.filter { $0.hasPrefix("w8 ") || $0.hasPrefix("palettize-4 ") }
        #expect(rows.count == 2 && rows[0].hasPrefix("w8"), "\(text)")
        #expect(lines.contains { $0.hasPrefix("recommendation: palettize-4:") }, "\(text)")
    }

    @Test("--json prints what POST /v1/estimate returns")
    func json() throws {
        let path = try write(PackageFixture.linearProgram(weights: [256]))
        let result = try Subprocess.run(QuantdProcess.binary, ["estimate", path, "--config", "w8", "--json"], in: Repository.root)
        #expect(result.exitCode == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout)) as? [String: Any])
        #expect(object["format"] as? String == "mlpackage")
        #expect((object["rows"] as? [[String: Any]])?.first?["name"] as? String == "w8")
    }

    @Test("a device it does not know is an error that lists the devices")
    func unknownDevice() throws {
        let path = try write(PackageFixture.linearProgram(weights: [256]))
        let result = try Subprocess.run(QuantdProcess.binary, ["estimate", path, "--device", "Pixel 8"], in: Repository.root)
        #expect(result.exitCode != 0)
        #expect(result.stderr.contains("unknown device 'Pixel 8'") && result.stderr.contains("iPhone 15 Pro"), "\(result.stderr)")
    }
}
