namespace Segmentation.Service.Ingestion;

/// <summary>Type names under which the typed lifecycle contracts are stored and named in rules.</summary>
public static class WellKnownEventTypes
{
    public const string SignedUp = "SignedUp";
    public const string Purchased = "Purchased";
    public const string ProfileUpdated = "ProfileUpdated";
    public const string Unsubscribed = "Unsubscribed";
}
