using Marten;
using Segmentation.Service.Profiles;

namespace Segmentation.Service.Ingestion;

/// <summary>
/// The write path of one event: read the customer's stream for writing, skip an event id it
/// already holds, append, commit with the version read as the expected version. A concurrent
/// writer makes the commit fail with a concurrency error, which the endpoint's retry turns into
/// a fresh attempt from the read.
/// </summary>
public sealed class CustomerEventRecorder(IDocumentSession session, ILogger<CustomerEventRecorder> logger)
{
    public async Task Record(string customerId, CustomerEventRecorded recorded, CancellationToken cancellationToken)
    {
        var stream = await session.Events.FetchForWriting<CustomerProfile>(customerId, cancellationToken);
        if (stream.Aggregate?.HasRecorded(recorded.EventId) == true)
        {
            logger.LogInformation("Event {EventId} for customer {CustomerId} was already recorded; redelivery ignored",
                recorded.EventId, customerId);
            return;
        }

        stream.AppendOne(recorded);
        await session.SaveChangesAsync(cancellationToken);
    }
}
