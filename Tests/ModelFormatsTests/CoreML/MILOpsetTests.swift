import Testing
@testable import ModelFormats

@Suite struct MILOpsetTests {
    @Test func parsesTheOpsetNamesCoreMLWrites() {
        #expect(MILOpset(name: "CoreML5") == .iOS15)
        #expect(MILOpset(name: "CoreML6") == .iOS16)
        #expect(MILOpset(name: "CoreML7") == .iOS17)
        #expect(MILOpset(name: "CoreML8") == .iOS18)
        #expect(MILOpset.allCases.allSatisfy { MILOpset(name: $0.name) == $0 })
    }

    @Test func rejectsOpsetsItDoesNotKnow() {
        // A future opset may change what constexpr ops look like; guessing would write wrong ops.
        for name in ["CoreML9", "CoreML4", "foo", "CoreML", "coreml6", "CoreML6 ", "CoreML+6", "CoreML06"] {
            #expect(MILOpset(name: name) == nil, "\(name)")
        }
    }

    @Test func mapsToSpecificationVersionsAndTargets() {
        #expect(MILOpset.iOS15.specificationVersion == 6)
        #expect(MILOpset.iOS16.specificationVersion == 7)
        #expect(MILOpset.iOS17.specificationVersion == 8)
        #expect(MILOpset.iOS18.specificationVersion == 9)
        #expect(MILOpset.iOS16.target == "iOS16")
        #expect(MILOpset.iOS18.target == "iOS18")
    }

    @Test func readsDeploymentTargetsAsCoreMLToolsNamesThem() {
        // coremltools' AvailableTarget: each macOS/tvOS/watchOS release aliases an iOS one.
        let expected: [String: MILOpset] = [
            "iOS15": .iOS15, "macOS12": .iOS15, "tvOS15": .iOS15, "watchOS8": .iOS15,
            "iOS16": .iOS16, "macOS13": .iOS16, "tvOS16": .iOS16, "watchOS9": .iOS16,
            "iOS17": .iOS17, "macOS14": .iOS17, "tvOS17": .iOS17, "watchOS10": .iOS17,
            "iOS18": .iOS18, "macOS15": .iOS18, "tvOS18": .iOS18, "watchOS11": .iOS18,
        ]
        for (name, opset) in expected { #expect(MILOpset(target: name) == opset, "\(name)") }
        #expect(Set(MILOpset.allCases.flatMap(\.targetNames)) == Set(expected.keys))
        #expect(MILOpset.allCases.allSatisfy { MILOpset(target: $0.target) == $0 })
    }

    @Test func refusesTargetsWithoutAnOpsetItWrites() {
        // Before iOS15 there are no ML Programs; iOS26 is an opset quantd does not write yet.
        for name in ["iOS13", "iOS14", "macOS11", "macOS10_15", "iOS26", "macOS26", "ios18", "iOS 18", "CoreML8", "18", ""] {
            #expect(MILOpset(target: name) == nil, "\(name)")
        }
    }

    @Test func onlyIOS18TakesConstexprParametersAsInputs() {
        #expect(MILOpset.allCases.filter(\.constexprParametersAreInputs) == [.iOS18])
    }

    @Test func ordersByDeploymentTarget() {
        #expect(MILOpset.iOS16 < .iOS17 && MILOpset.iOS17 < .iOS18)
        #expect([MILOpset.iOS18, .iOS16, .iOS17].min() == .iOS16)
    }
}
