import Testing
@testable import Service

@Suite struct BufferPoolTests {
    @Test func aGivenBufferIsTakenAgainAndNoMoreThanKeepAreHeld() {
        let pool = BufferPool(byteCount: 8192, keep: 2)
        let a = pool.take(), b = pool.take(), c = pool.take()
        #expect(a.count == 8192 && Int(bitPattern: a.baseAddress) % 4096 == 0)
        pool.give(a)
        pool.give(b)
        pool.give(c)  // over the limit: freed
        let again = [pool.take(), pool.take()].map(\.baseAddress)
        #expect(Set(again) == Set([a.baseAddress, b.baseAddress]))
        let fresh = pool.take()
        #expect(fresh.count == 8192)
        for buffer in [fresh] { buffer.deallocate() }
        for address in again { UnsafeMutableRawBufferPointer(start: address, count: 8192).deallocate() }
    }
}
