/// The MIL opset an ML Program function is written for, as Core ML names it ("CoreML6" …),
/// with the deployment target it stands for. The opset decides how compressed weights can
/// be written: iOS16/iOS17 have the first constexpr ops (parameters as attributes), iOS18 the
/// blockwise, grouped-LUT and sub-byte ones (parameters as inputs).
public enum MILOpset: Int, Sendable, Comparable, CaseIterable {
    case iOS15 = 5, iOS16 = 6, iOS17 = 7, iOS18 = 8

    /// Only the exact spelling: `Int` alone would also read "CoreML+6" and "CoreML06" as
    /// CoreML6, names Core ML itself does not accept.
    public init?(name: String) {
        guard name.hasPrefix("CoreML"), let number = Int(name.dropFirst("CoreML".count)),
              let opset = MILOpset(rawValue: number), opset.name == name else { return nil }
        self = opset
    }

    public var name: String { "CoreML\(rawValue)" }

    /// The deployment target's name as coremltools spells it.
    public var target: String { "iOS\(rawValue + 10)" }

    /// The names `ct.target` gives this opset's deployment target: the macOS, tvOS and watchOS
    /// releases of the same year share the iOS release's specification version.
    public var targetNames: [String] {
        ["iOS\(rawValue + 10)", "macOS\(rawValue + 7)", "tvOS\(rawValue + 10)", "watchOS\(rawValue + 3)"]
    }

    /// The opset of a deployment target named as `ct.target` names it ("iOS18", "macOS15" …).
    public init?(target name: String) {
        guard let opset = Self.allCases.first(where: { $0.targetNames.contains(name) }) else { return nil }
        self = opset
    }

    /// The Core ML specification version a model with this opset needs.
    public var specificationVersion: Int32 { Int32(rawValue + 1) }

    /// Whether constexpr ops take their parameters as inputs (iOS18) rather than attributes.
    public var constexprParametersAreInputs: Bool { self >= .iOS18 }

    public static func < (a: MILOpset, b: MILOpset) -> Bool { a.rawValue < b.rawValue }
}
