using Marten.Events.Aggregation;
using Segmentation.Service.Ingestion;

namespace Segmentation.Service.Profiles;

/// <summary>Inline projection: the profile is committed in the same transaction as its events.</summary>
public sealed partial class CustomerProfileProjection : SingleStreamProjection<CustomerProfile, string>
{
    public CustomerProfile Create(CustomerEventRecorded recorded)
    {
        var profile = new CustomerProfile();
        profile.Record(recorded);
        return profile;
    }

    public CustomerProfile Apply(CustomerEventRecorded recorded, CustomerProfile profile)
    {
        profile.Record(recorded);
        return profile;
    }
}
