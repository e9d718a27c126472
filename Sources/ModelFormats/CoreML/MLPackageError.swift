/// Why an uploaded archive is not a usable `.mlpackage`: problems with the upload (HTTP 422
/// material), each saying what was looked for and where.
public enum MLPackageError: Error, Equatable, Sendable, CustomStringConvertible {
    case manifestMissing
    case ambiguousManifest([String])
    case invalidManifest(String)
    case rootModelNotListed(String, listed: [String])
    case unsafeItemPath(String)
    case modelFileMissing(String)
    case notRelativeToModel(String)
    case referencedFileMissing(reference: String, path: String)

    public var description: String {
        switch self {
        case .manifestMissing:
            "no Manifest.json at the top of the archive or inside one top-level folder; is this a zipped .mlpackage?"
        case .ambiguousManifest(let paths):
            "the archive holds several packages (\(paths.joined(separator: ", "))); upload one"
        case .invalidManifest(let reason):
            "Manifest.json is invalid: \(reason)"
        case .rootModelNotListed(let identifier, let listed):
            "Manifest.json names root model '\(identifier)', which is not among its items (\(listed.joined(separator: ", ")))"
        case .unsafeItemPath(let path):
            "Manifest.json lists item path '\(path)', which is not a safe relative path"
        case .modelFileMissing(let path):
            "the root model file '\(path)' named by Manifest.json is not in the archive"
        case .notRelativeToModel(let reference):
            "the model refers to '\(reference)'; only files under '@model_path/' are supported"
        case .referencedFileMissing(let reference, let path):
            "the model refers to '\(reference)' but '\(path)' is not in the archive"
        }
    }
}
