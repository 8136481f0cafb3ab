namespace SegmentationEvents.ServiceDefaults;

/// <summary>
/// How an upstream event id given as a string (a ULID, a history line's id, any publisher's own scheme) becomes the
/// GUID the service stores and deduplicates by. An event id names one occurrence across the whole service, whichever
/// customer it is for, so the customer is not part of the mapping: the same id published by segctl or sent as plain
/// JSON is the same event.
/// </summary>
public static class EventIds
{
    /// <summary>A GUID string stays that GUID; any other string becomes a stable name-based GUID.</summary>
    public static Guid ToGuid(string eventId) =>
        Guid.TryParse(eventId, out var id) ? id : NameBasedGuid.Create($"event-id:{eventId}");
}
