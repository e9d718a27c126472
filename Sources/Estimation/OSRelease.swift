import ModelFormats

/// The Core ML runtime a model runs on, by the OS release that ships it: the Neural Engine
/// handles compressed weights differently from one to the next (Apple's ResNet50 rows: no
/// latency gain from weight compression on iOS 17, real gains on iOS 18). iPhone and Mac
/// releases of the same year share a runtime.
public enum OSRelease: String, Sendable, Codable, CaseIterable, Comparable {
    case iOS17, iOS18

    /// What estimates assume when the caller names none.
    public static let newest = OSRelease.allCases.last!

    /// "iOS17", "iOS18", or the Mac release of the same runtime ("macOS14", "macOS15"),
    /// ignoring case.
    public init?(name: String) {
        guard let release = Self.allCases.first(where: { [$0.rawValue, $0.macOSName].contains { $0.lowercased() == name.lowercased() } }) else {
            return nil
        }
        self = release
    }

    /// The Mac release that shares this runtime.
    public var macOSName: String {
        switch self {
        case .iOS17: "macOS14"
        case .iOS18: "macOS15"
        }
    }

    /// The Core ML opset this release introduced: what a model written for it may use.
    public var opset: MILOpset {
        switch self {
        case .iOS17: .iOS17
        case .iOS18: .iOS18
        }
    }

    /// The names `init(name:)` accepts, for messages.
    public static let names = allCases.flatMap { [$0.rawValue, $0.macOSName] }

    public static func < (a: OSRelease, b: OSRelease) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}
