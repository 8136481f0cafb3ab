namespace Segmentation.Service.Membership;

/// <summary>
/// A commit that lost the race on a customer's stream: its append came after a concurrent one (the expected version
/// moved on), or two first appends of one stream met. The loser decides again from a fresh read.
/// </summary>
public static class StreamRaces
{
    public static bool IsLostRace(Exception exception) => Lost(exception, out _);

    /// <summary>The customer whose stream another writer appended to first, when that is why a commit failed.</summary>
    public static string? LostRaceOn(Exception exception) => Lost(exception, out var customerId) ? customerId : null;

    private static bool Lost(Exception exception, out string? customerId)
    {
        customerId = exception switch
        {
            JasperFx.ConcurrencyException lost => lost.Id?.ToString(),
            JasperFx.Events.ExistingStreamIdCollisionException collision => collision.Id?.ToString(),
            Marten.Exceptions.ExistingStreamIdCollisionException collision => collision.Id?.ToString(),
            _ => null,
        };
        return exception is JasperFx.ConcurrencyException
            or JasperFx.Events.ExistingStreamIdCollisionException
            or Marten.Exceptions.ExistingStreamIdCollisionException;
    }
}
