/// A value while the graph runs: a shape and elements of one type in an arena buffer. Values
/// that only change the shape (reshape, squeeze, flatten, identity) share their operand's buffer.
struct Value {
    let shape: [Int]
    let type: ElementType
    let buffer: Buffer

    init(shape: [Int], type: ElementType, buffer: Buffer) {
        self.shape = shape
        self.type = type
        self.buffer = buffer
    }

    var count: Int { shape.reduce(1, *) }
    var rank: Int { shape.count }

    var floats: UnsafeMutablePointer<Float> { buffer.pointer.assumingMemoryBound(to: Float.self) }
    var int64s: UnsafeMutablePointer<Int64> { buffer.pointer.assumingMemoryBound(to: Int64.self) }
    var bools: UnsafeMutablePointer<Bool> { buffer.pointer.assumingMemoryBound(to: Bool.self) }

    var floatBuffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: floats, count: count) }
    var int64Buffer: UnsafeMutableBufferPointer<Int64> { UnsafeMutableBufferPointer(start: int64s, count: count) }
    var boolBuffer: UnsafeMutableBufferPointer<Bool> { UnsafeMutableBufferPointer(start: bools, count: count) }

    /// The same elements under another shape of as many elements.
    func reshaped(_ shape: [Int]) -> Value {
        Value(shape: shape, type: type, buffer: buffer)
    }

    /// Copies the elements of a public tensor into a buffer of `arena`.
    init(_ tensor: Tensor, arena: Arena) {
        self.init(shape: tensor.shape, elements: tensor.elements, arena: arena)
    }

    init(_ constant: ConstantTensor, arena: Arena) {
        self.init(shape: constant.shape, elements: constant.elements, arena: arena)
    }

    private init(shape: [Int], elements: Tensor.Elements, arena: Arena) {
        let count = shape.reduce(1, *)
        switch elements {
        case .float32(let values):
            let buffer = arena.allocate(.float32, count: count)
            let target = buffer.pointer.assumingMemoryBound(to: Float.self)
            values.withUnsafeBufferPointer { target.update(from: $0.baseAddress!, count: min(count, $0.count)) }
            self.init(shape: shape, type: .float32, buffer: buffer)
        case .int64(let values):
            let buffer = arena.allocate(.int64, count: count)
            let target = buffer.pointer.assumingMemoryBound(to: Int64.self)
            values.withUnsafeBufferPointer { target.update(from: $0.baseAddress!, count: min(count, $0.count)) }
            self.init(shape: shape, type: .int64, buffer: buffer)
        case .bool(let values):
            let buffer = arena.allocate(.bool, count: count)
            let target = buffer.pointer.assumingMemoryBound(to: Bool.self)
            values.withUnsafeBufferPointer { target.update(from: $0.baseAddress!, count: min(count, $0.count)) }
            self.init(shape: shape, type: .bool, buffer: buffer)
        }
    }

    /// The elements copied out into a public tensor, which outlives the run.
    var tensor: Tensor {
        switch type {
        case .float32: Tensor(shape: shape, floats: Array(floatBuffer))
        case .int64: Tensor(shape: shape, int64s: Array(int64Buffer))
        case .bool: Tensor(shape: shape, bools: Array(boolBuffer))
        }
    }

    /// Integer elements read as Int, whatever the operand's element type (shapes, axes, pads).
    var integers: [Int] {
        switch type {
        case .int64: int64Buffer.map { Int($0) }
        case .float32: floatBuffer.map { Int($0) }
        case .bool: boolBuffer.map { $0 ? 1 : 0 }
        }
    }

    /// A scalar operand read as a Float (clip bounds, range bounds).
    var firstFloat: Float {
        switch type {
        case .float32: floats[0]
        case .int64: Float(int64s[0])
        case .bool: bools[0] ? 1 : 0
        }
    }
}
