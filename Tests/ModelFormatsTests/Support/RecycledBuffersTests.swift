import Testing
@testable import ModelFormats

@Suite struct RecycledBuffersTests {
    @Test func reusesTheSmallestSpareThatFitsWithoutBeingTwiceTheSize() {
        let buffers = RecycledBuffers(keepBytes: 1 << 30, keepCount: 4)
        let small = buffers.take(atLeast: 1000)
        let large = buffers.take(atLeast: 5000)
        buffers.give(large)
        buffers.give(small)
        // 900 fits the 1000-byte spare; 3000 fits only the 5000-byte one.
        #expect(buffers.take(atLeast: 900).baseAddress == small.baseAddress)
        let fits = buffers.take(atLeast: 3000)
        #expect(fits.baseAddress == large.baseAddress && fits.count == 5000)
        buffers.give(fits)
        // 2000 is less than half of 5000: a new buffer, the spare stays.
        let fresh = buffers.take(atLeast: 2000)
        #expect(fresh.baseAddress != large.baseAddress && fresh.count == 2000)
        #expect(buffers.spareSizes == [5000])
        // Larger than every spare: a new buffer.
        #expect(buffers.take(atLeast: 6000).count == 6000)
    }

    @Test func keepsWithinTheCountAndByteLimitsOldestFreedFirst() {
        let buffers = RecycledBuffers(keepBytes: 10_000, keepCount: 2)
        let sizes = [1000, 2000, 3000]
        let taken = sizes.map { buffers.take(atLeast: $0) }
        taken.forEach(buffers.give)
        #expect(buffers.spareSizes == [2000, 3000])
        buffers.give(buffers.take(atLeast: 9000))
        #expect(buffers.spareSizes == [9000])
        // Alone larger than the limit: freed, not kept.
        buffers.give(buffers.take(atLeast: 20_000))
        #expect(buffers.spareSizes == [9000])
    }

    /// One size only, as upload chunks and artifact blocks use it: given buffers are taken
    /// again, page-aligned, and no more than `keepCount` are held.
    @Test func aGivenBufferOfOneSizeIsTakenAgainAndNoMoreThanKeepAreHeld() {
        let pool = RecycledBuffers(keepCount: 2, alignment: 4096)
        let a = pool.take(atLeast: 8192), b = pool.take(atLeast: 8192), c = pool.take(atLeast: 8192)
        #expect(a.count == 8192 && Int(bitPattern: a.baseAddress) % 4096 == 0)
        pool.give(a)
        pool.give(b)
        pool.give(c)  // over the limit: the oldest spare is freed
        #expect(pool.spareSizes == [8192, 8192])
        let again = [pool.take(atLeast: 8192), pool.take(atLeast: 8192)].map(\.baseAddress)
        #expect(Set(again) == Set([b.baseAddress, c.baseAddress]))
        let fresh = pool.take(atLeast: 8192)
        #expect(fresh.count == 8192 && !again.contains(fresh.baseAddress))
    }

    @Test func buffersAreAlignedAndWritable() {
        let buffers = RecycledBuffers(keepBytes: 1 << 20, keepCount: 1)
        let buffer = buffers.take(atLeast: 4096)
        #expect(Int(bitPattern: buffer.baseAddress) % 64 == 0)
        buffer.storeBytes(of: 0xFF, toByteOffset: 4095, as: UInt8.self)
        buffers.give(buffer)
        #expect(buffers.take(atLeast: 4096).load(fromByteOffset: 4095, as: UInt8.self) == 0xFF)
    }
}
