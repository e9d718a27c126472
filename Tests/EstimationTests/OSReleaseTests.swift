import ModelFormats
import Testing
@testable import Estimation

@Suite("OS release")
struct OSReleaseTests {
    @Test("iPhone and Mac names of one runtime read as that runtime, in any case; others are refused")
    func names() {
        #expect(OSRelease(name: "iOS17") == .iOS17)
        #expect(OSRelease(name: "macos14") == .iOS17)
        #expect(OSRelease(name: "IOS18") == .iOS18)
        #expect(OSRelease(name: "macOS15") == .iOS18)
        #expect(OSRelease(name: "iOS16") == nil)
        #expect(OSRelease(name: "18") == nil)
        #expect(OSRelease.names == ["iOS17", "macOS14", "iOS18", "macOS15"])
    }

    @Test("the newest release is the default, releases order by year, and each maps to the opset it introduced")
    func orderAndOpset() {
        #expect(OSRelease.newest == .iOS18)
        #expect(OSRelease.iOS17 < .iOS18)
        #expect(OSRelease.iOS17.opset == .iOS17 && OSRelease.iOS18.opset == .iOS18)
    }
}
