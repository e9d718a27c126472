import CQuantKernels

/// Reads element `index` of little-endian weight bytes as a `Float`.
///
/// Kernels are generic over the source so that one loop serves every storage type and
/// decoding fuses into the loop instead of needing a float copy of the tensor.
protocol WeightSource {
    subscript(index: Int) -> Float { get }
    /// An integer that orders like the element's value, with NaNs beyond the infinities.
    /// Integer min/max reductions vectorise; floating ones do not without fast-math.
    func orderKey(at index: Int) -> Int32
    /// The value whose order key is `key`.
    func value(ofOrderKey key: Int32) -> Float
    /// An unsigned integer below `1 << magnitudeKeyBits` that orders like the element's
    /// magnitude, NaNs beyond infinity; pruning selects ranks with histograms of it.
    func magnitudeKey(at index: Int) -> UInt32
    /// The magnitude whose key is `key`.
    func magnitude(ofKey key: UInt32) -> Float
    /// 15 for the 16-bit types, whose own bits serve as keys (one histogram pass); 31 otherwise.
    static var magnitudeKeyBits: Int { get }
    /// Elements `index..<index + 8`, decoded in vector registers where the type allows.
    func vector8(at index: Int) -> SIMD8<Float>
    /// The vector kernels for this source, when the CPU and the element type allow them.
    var vectorKernels: VectorKernels? { get }
}

extension WeightSource {
    @inline(__always) func vector8(at index: Int) -> SIMD8<Float> {
        var v = SIMD8<Float>()
        for k in 0..<8 { v[k] = self[index &+ k] }
        return v
    }

    @inline(__always) func orderKey(at index: Int) -> Int32 { OrderKey.of32(self[index].bitPattern) }
    @inline(__always) func value(ofOrderKey key: Int32) -> Float { Float(bitPattern: OrderKey.bits32(key)) }
    @inline(__always) func magnitudeKey(at index: Int) -> UInt32 { self[index].bitPattern & 0x7FFF_FFFF }
    @inline(__always) func magnitude(ofKey key: UInt32) -> Float { Float(bitPattern: key) }
    static var magnitudeKeyBits: Int { 31 }
    var vectorKernels: VectorKernels? { nil }
}

/// Maps sign-magnitude float bits to two's-complement integers of the same order, by
/// flipping the magnitude bits of negative values; the map is its own inverse.
enum OrderKey {
    @inline(__always) static func of32(_ bits: UInt32) -> Int32 {
        let signed = Int32(bitPattern: bits)
        return signed ^ ((signed >> 31) & 0x7FFF_FFFF)
    }

    @inline(__always) static func bits32(_ key: Int32) -> UInt32 {
        UInt32(bitPattern: key ^ ((key >> 31) & 0x7FFF_FFFF))
    }

    @inline(__always) static func of16(_ bits: UInt16) -> Int32 {
        let signed = Int32(Int16(bitPattern: bits))
        return signed ^ ((signed >> 31) & 0x7FFF)
    }

    @inline(__always) static func bits16(_ key: Int32) -> UInt16 {
        UInt16(truncatingIfNeeded: key ^ ((key >> 31) & 0x7FFF))
    }
}

/// Something to run with the source matching a scalar type, specialised per source.
protocol WeightSourceVisitor {
    associatedtype Result
    func visit<Source: WeightSource>(_ source: Source) -> Result
}

/// Calls `visitor` with the source that reads `base` as elements of `type`.
func withWeightSource<Visitor: WeightSourceVisitor>(
    _ type: ScalarType, _ base: UnsafeRawPointer, _ visitor: Visitor
) throws(QuantCoreError) -> Visitor.Result {
    switch type {
    case .float64: visitor.visit(Float64Source(base: base))
    case .float32: visitor.visit(Float32Source(base: base))
    case .float16: visitor.visit(Float16Source(base: base))
    case .bfloat16: visitor.visit(BFloat16Source(base: base))
    case .float8E4M3: visitor.visit(Float8E4M3Source(base: base))
    case .float8E5M2: visitor.visit(Float8E5M2Source(base: base))
    default: throw .notFloatingPoint(type)
    }
}

struct FloatBufferSource: WeightSource {
    let base: UnsafePointer<Float>
    @inline(__always) subscript(index: Int) -> Float { base[index] }
}

struct Float64Source: WeightSource {
    let base: UnsafeRawPointer
    @inline(__always) subscript(index: Int) -> Float {
        Float(Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index &* 8, as: UInt64.self))))
    }
}

struct Float32Source: WeightSource {
    let base: UnsafeRawPointer
    @inline(__always) subscript(index: Int) -> Float {
        Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: index &* 4, as: UInt32.self)))
    }
    @inline(__always) func vector8(at index: Int) -> SIMD8<Float> {
        base.loadUnaligned(fromByteOffset: index &* 4, as: SIMD8<Float>.self)
    }
    var vectorKernels: VectorKernels? { VectorKernels(element: QK_FLOAT32, base: base) }
}

struct Float16Source: WeightSource {
    let base: UnsafeRawPointer
    @inline(__always) func bits(_ index: Int) -> UInt16 {
        UInt16(littleEndian: base.loadUnaligned(fromByteOffset: index &* 2, as: UInt16.self))
    }
    @inline(__always) subscript(index: Int) -> Float { FloatConversion.float(float16Bits: bits(index)) }
    @inline(__always) func vector8(at index: Int) -> SIMD8<Float> {
        FloatConversion.float(float16Bits: base.loadUnaligned(fromByteOffset: index &* 2, as: SIMD8<UInt16>.self))
    }
    @inline(__always) func orderKey(at index: Int) -> Int32 { OrderKey.of16(bits(index)) }
    @inline(__always) func value(ofOrderKey key: Int32) -> Float { FloatConversion.float(float16Bits: OrderKey.bits16(key)) }
    @inline(__always) func magnitudeKey(at index: Int) -> UInt32 { UInt32(bits(index) & 0x7FFF) }
    @inline(__always) func magnitude(ofKey key: UInt32) -> Float { FloatConversion.float(float16Bits: UInt16(truncatingIfNeeded: key)) }
    static var magnitudeKeyBits: Int { 15 }
    var vectorKernels: VectorKernels? { VectorKernels(element: QK_FLOAT16, base: base) }
}

struct BFloat16Source: WeightSource {
    let base: UnsafeRawPointer
    @inline(__always) func bits(_ index: Int) -> UInt16 {
        UInt16(littleEndian: base.loadUnaligned(fromByteOffset: index &* 2, as: UInt16.self))
    }
    @inline(__always) subscript(index: Int) -> Float { FloatConversion.float(bfloat16Bits: bits(index)) }
    @inline(__always) func orderKey(at index: Int) -> Int32 { OrderKey.of16(bits(index)) }
    @inline(__always) func value(ofOrderKey key: Int32) -> Float { FloatConversion.float(bfloat16Bits: OrderKey.bits16(key)) }
    @inline(__always) func magnitudeKey(at index: Int) -> UInt32 { UInt32(bits(index) & 0x7FFF) }
    @inline(__always) func magnitude(ofKey key: UInt32) -> Float { FloatConversion.float(bfloat16Bits: UInt16(truncatingIfNeeded: key)) }
    static var magnitudeKeyBits: Int { 15 }
}

struct Float8E4M3Source: WeightSource {
    let base: UnsafeRawPointer
    let table = FloatConversion.float8E4M3Table
    @inline(__always) subscript(index: Int) -> Float {
        table[Int(base.load(fromByteOffset: index, as: UInt8.self))]
    }
}

struct Float8E5M2Source: WeightSource {
    let base: UnsafeRawPointer
    @inline(__always) subscript(index: Int) -> Float {
        FloatConversion.float(float8E5M2Bits: base.load(fromByteOffset: index, as: UInt8.self))
    }
}
