import Testing
import ModelFormats

@Suite struct ModelFormatTests {
    private static func safetensorsPrefix(json: String) -> [UInt8] {
        withUnsafeBytes(of: UInt64(json.utf8.count).littleEndian, Array.init) + Array(json.utf8)
    }

    private static var tarHeader: [UInt8] {
        var header = [UInt8](repeating: 0, count: 512)
        header.replaceSubrange(0..<9, with: Array("model.bin".utf8))
        header.replaceSubrange(257..<263, with: Array("ustar\0".utf8))
        return header
    }

    struct Sample: CustomTestStringConvertible, Sendable {
        let name: String
        let prefix: [UInt8]
        let fileSize: Int
        let expected: ModelFormat
        var testDescription: String { name }
    }

    static let samples: [Sample] = [
        Sample(name: "safetensors", prefix: safetensorsPrefix(json: #"{"a":{"dtype":"F32"}}"#), fileSize: 1000, expected: .safetensors),
        Sample(name: "smallest safetensors", prefix: safetensorsPrefix(json: "{}"), fileSize: 10, expected: .safetensors),
        // Truncated safetensors is still safetensors: the header parser then names the problem.
        Sample(name: "safetensors header longer than the file",
               prefix: safetensorsPrefix(json: #"{"a":{"dtype":"F32"}}"#), fileSize: 20, expected: .safetensors),
        Sample(name: "absurd length prefix", prefix: [0, 0, 0, 0, 0, 0, 0, 1] + Array("{}".utf8), fileSize: 100, expected: .unknown),
        Sample(name: "length prefix without a brace", prefix: safetensorsPrefix(json: "[1, 2, 3, 4]"), fileSize: 100, expected: .unknown),
        Sample(name: "zip", prefix: [0x50, 0x4B, 0x03, 0x04] + Array(repeating: 0, count: 12), fileSize: 5000, expected: .zip),
        Sample(name: "gzip", prefix: [0x1F, 0x8B, 0x08, 0, 0, 0, 0, 0, 0, 3] + Array(repeating: 0, count: 6), fileSize: 5000, expected: .gzip),
        Sample(name: "tar", prefix: tarHeader, fileSize: 10_240, expected: .tar),
        Sample(name: "tar with only 16 bytes", prefix: Array(tarHeader.prefix(16)), fileSize: 10_240, expected: .unknown),
        Sample(name: "empty", prefix: [], fileSize: 0, expected: .unknown),
        Sample(name: "text", prefix: Array("hello, this is not a model".utf8), fileSize: 26, expected: .unknown),
    ]

    @Test(arguments: samples)
    func classifiesByContent(_ sample: Sample) {
        #expect(ModelFormat(sniffing: sample.prefix, fileSize: sample.fileSize) == sample.expected)
    }

    @Test func onlySafetensorsIsSupported() {
        #expect(ModelFormat.allCases.filter(\.isSupported) == [.safetensors])
        #expect(ModelFormat.zip.description.contains("ZIP"))
    }
}
