/// Which job store a node uses: `storage.database_url` decides.
enum StoreKind: Sendable, Equatable {
    /// The embedded SQLite file in the data dir: one node.
    case sqlite
    /// A PostgreSQL database every node of a cluster shares, with the data dir.
    case postgres(url: String)

    /// The name /metrics and the log give it.
    var name: String {
        switch self {
        case .sqlite: "sqlite"
        case .postgres: "postgres"
        }
    }
}
