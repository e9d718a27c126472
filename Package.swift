// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "quantd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "quantd", targets: ["quantd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // Runtime for the committed Core ML proto code; no older than the protoc-gen-swift that generated it.
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        // GEMM for the executor (libopenblas-dev).
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        // The PostgreSQL client library (libpq-dev), for the store a cluster of nodes shares.
        .systemLibrary(name: "CPostgres", path: "Sources/CPostgres", pkgConfig: "libpq",
                       providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"])]),

        // epoll/eventfd/sendfile/accept4, which Glibc does not export to Swift.
        .target(name: "CLinuxIO"),
        // OpenSSL's server-side TLS (libssl-dev) behind a few C calls: its configuration API is macros.
        .target(name: "CTLS", linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]),
        // General HTTP/1.1 server on BSD sockets + Dispatch, plain or TLS; knows nothing of models or jobs.
        .target(name: "HTTP", dependencies: ["CLinuxIO", "CTLS"]),
        // CRC-32 of zip and gzip by carry-less multiplication where the CPU has it.
        .target(name: "CCRC32"),
        // Huffman-only deflate chunks written without zlib's per-byte machinery.
        .target(name: "CHuffmanGzip"),
        // Whole-buffer raw deflate decoder for zip entries of known size, about twice zlib's inflate speed.
        .target(name: "CDeflateDecoder"),
        // AVX2/F16C/FMA loops for the linear quantizer, chosen at run time (Swift cannot target them per function).
        .target(name: "CQuantKernels"),
        // Pure numerics: dtypes, quantizers, error metrics. No I/O; only its own C kernels.
        .target(name: "QuantCore", dependencies: ["CQuantKernels"],
                swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]),
        // The one compression decision for every format: weight selection, stages, joint rules,
        // skip reasons, typed compressed forms with their error and warnings. Pure; no I/O.
        .target(name: "Compression", dependencies: ["QuantCore"]),
        // Model file readers/writers and format sniffing.
        // The .proto sources are inputs to scripts/generate-protos, not to the build.
        .target(name: "ModelFormats", dependencies: [
            "QuantCore", "Compression", "Execution", "CZlib", "CDeflateDecoder", "CCRC32",
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ], exclude: ["CoreML/Proto/coreml_model.proto", "CoreML/Proto/coreml_mil.proto", "ONNX/Proto/onnx_subset.proto"]),
        // CPU executor: one op-kernel library, graphs lowered onto it by each format, a planned
        // activation arena; runs float and compressed models for evaluation and calibration.
        .target(name: "Execution", dependencies: ["CBLAS"],
                swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]),
        // Device catalog, graph cost, latency and accuracy estimates. Pure: graph + forms + device → numbers.
        .target(name: "Estimation", dependencies: ["ModelFormats", "QuantCore"]),
        // A libpq client: connections with text parameters, a blocking pool, LISTEN/NOTIFY.
        // Knows nothing of jobs.
        .target(name: "Postgres", dependencies: ["CPostgres"]),
        // Routes, job stores (SQLite, PostgreSQL), worker pools, artifact store, config, metrics.
        .target(name: "Service", dependencies: [
            "HTTP", "Postgres", "ModelFormats", "Estimation", "Execution", "Compression", "QuantCore", "CZlib", "COpenSSL", "CLinuxIO", "CHuffmanGzip",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Yams", package: "Yams"),
        ]),
        .executableTarget(name: "quantd", dependencies: [
            "Service",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // libFuzzer targets (scripts/fuzz), one per parser of untrusted bytes. A plain build
        // makes each replay the input files it is given, so they build and link with the rest.
        .target(name: "FuzzReplay"),
        .executableTarget(name: "FuzzHTTPRequestParser", dependencies: ["FuzzReplay", "HTTP"]),
        .executableTarget(name: "FuzzMultipartParser", dependencies: ["FuzzReplay", "HTTP"]),
        .executableTarget(name: "FuzzSafetensorsHeader", dependencies: ["FuzzReplay", "ModelFormats"]),
        .executableTarget(name: "FuzzZipArchive", dependencies: ["FuzzReplay", "ModelFormats"]),
        .executableTarget(name: "FuzzTarArchive", dependencies: ["FuzzReplay", "ModelFormats"]),
        .executableTarget(name: "FuzzMLProgramModel", dependencies: ["FuzzReplay", "ModelFormats"]),
        .executableTarget(name: "FuzzMILBlobStorage", dependencies: ["FuzzReplay", "ModelFormats"]),

        .testTarget(name: "HTTPTests", dependencies: ["HTTP"]),
        // Fresh databases on the throwaway PostgreSQL cluster scripts/test starts.
        .target(name: "PostgresTestSupport", dependencies: ["Postgres"], path: "Tests/PostgresTestSupport"),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "PostgresTestSupport"]),
        .testTarget(name: "QuantCoreTests", dependencies: ["QuantCore"]),
        .testTarget(name: "CompressionTests", dependencies: ["Compression", "QuantCore"]),
        .testTarget(name: "ModelFormatsTests", dependencies: ["ModelFormats", "QuantCore", "Execution", "CZlib", "CDeflateDecoder", "CCRC32"]),
        .testTarget(name: "ExecutionTests", dependencies: ["Execution"]),
        .testTarget(name: "EstimationTests", dependencies: ["Estimation", "ModelFormats"]),
        .testTarget(name: "ServiceTests", dependencies: [
            "Service", "HTTP", "Postgres", "PostgresTestSupport", "ModelFormats", "Estimation", "Execution", "QuantCore", "CZlib",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Yams", package: "Yams"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
