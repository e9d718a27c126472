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

    @Test func onlyIOS18TakesConstexprParametersAsInputs() {
        #expect(MILOpset.allCases.filter(\.constexprParametersAreInputs) == [.iOS18])
    }

    @Test func ordersByDeploymentTarget() {
        #expect(MILOpset.iOS16 < .iOS17 && MILOpset.iOS17 < .iOS18)
        #expect([MILOpset.iOS18, .iOS16, .iOS17].min() == .iOS16)
    }
}
