/// The memory every run-time value lives in. A buffer goes back to the free list when the last
/// value holding it is dropped (the executor drops each value after its last reader), and the
/// next request takes the smallest free buffer that fits, so a run holds about its largest live
/// set rather than the sum of its activations. Shapes follow the batch, so the plan is made at
/// run time by this best fit rather than as fixed offsets at init.
///
/// One run uses an arena at a time: the executor checks it out for the run.
final class Arena: @unchecked Sendable {
    private var free: [(pointer: UnsafeMutableRawPointer, bytes: Int)] = []
    /// Bytes taken from the system and not yet given back, free or in use.
    private(set) var heldBytes = 0
    private(set) var peakHeldBytes = 0
    /// Off for constants, which live as long as the executor and are never recycled.
    private let pooling: Bool

    init(pooling: Bool) {
        self.pooling = pooling
    }

    deinit {
        for block in free { block.pointer.deallocate() }
    }

    func startRun() {
        peakHeldBytes = heldBytes
    }

    func allocate(_ type: ElementType, count: Int) -> Buffer {
        let bytes = max(count * type.byteWidth, 64)
        var best: Int?
        for (index, block) in free.enumerated() where block.bytes >= bytes {
            if let current = best, free[current].bytes <= block.bytes { continue }
            best = index
        }
        let pointer: UnsafeMutableRawPointer
        let capacity: Int
        if let best {
            (pointer, capacity) = free.remove(at: best)
        } else {
            // Nothing fits: give back the largest free block too small for this request, so
            // the arena grows into it instead of holding both.
            if let largest = free.indices.max(by: { free[$0].bytes < free[$1].bytes }) {
                let block = free.remove(at: largest)
                block.pointer.deallocate()
                heldBytes -= block.bytes
            }
            pointer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            capacity = bytes
            heldBytes += bytes
            peakHeldBytes = max(peakHeldBytes, heldBytes)
        }
        switch type {
        case .float32: pointer.bindMemory(to: Float.self, capacity: capacity / 4)
        case .int64: pointer.bindMemory(to: Int64.self, capacity: capacity / 8)
        case .bool: pointer.bindMemory(to: Bool.self, capacity: capacity)
        }
        return Buffer(pointer: pointer, bytes: capacity, arena: pooling ? self : nil)
    }

    fileprivate func recycle(_ pointer: UnsafeMutableRawPointer, bytes: Int) {
        free.append((pointer, bytes))
    }
}

/// One block of an arena's memory, returned to it when the last value holding it goes.
final class Buffer: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    let bytes: Int
    private let arena: Arena?

    fileprivate init(pointer: UnsafeMutableRawPointer, bytes: Int, arena: Arena?) {
        self.pointer = pointer
        self.bytes = bytes
        self.arena = arena
    }

    deinit {
        if let arena {
            arena.recycle(pointer, bytes: bytes)
        } else {
            pointer.deallocate()
        }
    }
}

extension ElementType {
    var byteWidth: Int {
        switch self {
        case .float32: 4
        case .int64: 8
        case .bool: 1
        }
    }
}
