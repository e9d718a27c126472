import Glibc

/// The IMF-fixdate for the Date header, formatted once per second per thread.
enum HTTPDate {
    private final class Cache {
        var second = 0
        var value = ""
    }

    private static let cache = ThreadLocal<Cache> { Cache() }

    static func now() -> String {
        let c = cache.value
        var t = time(nil)
        if Int(t) != c.second {
            c.second = Int(t)
            var tmv = tm()
            gmtime_r(&t, &tmv)
            var buf = [CChar](repeating: 0, count: 40)
            strftime(&buf, 40, "%a, %d %b %Y %H:%M:%S GMT", &tmv)
            c.value = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return c.value
    }
}

/// A per-thread value, created on first use in each thread.
final class ThreadLocal<Value: AnyObject>: @unchecked Sendable {
    // @unchecked: the key is immutable after init and the values never cross threads.
    private var key = pthread_key_t()
    private let make: @Sendable () -> Value

    init(_ make: @escaping @Sendable () -> Value) {
        self.make = make
        pthread_key_create(&key) { if let p = $0 { Unmanaged<AnyObject>.fromOpaque(p).release() } }
    }

    var value: Value {
        if let p = pthread_getspecific(key) {
            return Unmanaged<Value>.fromOpaque(p).takeUnretainedValue()
        }
        let v = make()
        pthread_setspecific(key, Unmanaged.passRetained(v).toOpaque())
        return v
    }
}
