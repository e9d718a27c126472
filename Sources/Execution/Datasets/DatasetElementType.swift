/// The element types a sample dataset may hold, with NumPy's names (what the API reports).
/// The executor reads floats as float32 and integers as int64 (see `ElementType`).
public enum DatasetElementType: String, Sendable, Equatable, CaseIterable {
    case bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float16, float32, float64

    public var isFloat: Bool { self == .float16 || self == .float32 || self == .float64 }
    public var isInteger: Bool { !isFloat && self != .bool }
}
