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

    /// The Core ML specification version a model with this opset needs.
    public var specificationVersion: Int32 { Int32(rawValue + 1) }

    /// Whether constexpr ops take their parameters as inputs (iOS18) rather than attributes.
    public var constexprParametersAreInputs: Bool { self >= .iOS18 }

    public static func < (a: MILOpset, b: MILOpset) -> Bool { a.rawValue < b.rawValue }
}
