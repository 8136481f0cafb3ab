using JasperFx.Events;
using Marten.Events.Aggregation;
using Segmentation.Rules.Membership;
using Segmentation.Service.Ingestion;
using Segmentation.Service.Membership;

namespace Segmentation.Service.Profiles;

/// <summary>Inline projection: the profile is committed in the same transaction as its events.</summary>
public sealed partial class CustomerProfileProjection : SingleStreamProjection<CustomerProfile, string>
{
    public CustomerProfile Create(IEvent<CustomerEventRecorded> recorded)
    {
        var customerId = recorded.StreamKey!;
        var profile = new CustomerProfile { Id = customerId, State = new CustomerState { CustomerId = customerId } };
        profile.Apply(recorded.Data);
        return profile;
    }

    public CustomerProfile Apply(CustomerEventRecorded recorded, CustomerProfile profile) => Applied(profile, p => p.Apply(recorded));

    public CustomerProfile Apply(CustomerEnteredSegment entered, CustomerProfile profile) => Applied(profile, p => p.Apply(entered));

    public CustomerProfile Apply(CustomerExitedSegment exited, CustomerProfile profile) => Applied(profile, p => p.Apply(exited));

    public CustomerProfile Apply(IEvent<CustomerEvaluated> evaluated, CustomerProfile profile) =>
        Applied(profile, p => p.Apply(evaluated.Data,
            evaluated.Headers?.GetValueOrDefault(SegmentationTelemetry.TraceParentHeader)?.ToString()));

    private static CustomerProfile Applied(CustomerProfile profile, Action<CustomerProfile> apply)
    {
        apply(profile);
        return profile;
    }
}
