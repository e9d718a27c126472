import Compression

extension Problem {
    /// A config the model's weights cannot take: 422 naming the config key.
    init(_ rejection: ConfigRejection) {
        self = .invalidConfig(rejection.description, field: rejection.field)
    }

    /// A weight the numerics cannot compress: the model is at fault.
    init(_ error: CompressionError) {
        self = .invalidModel(error.description)
    }
}
