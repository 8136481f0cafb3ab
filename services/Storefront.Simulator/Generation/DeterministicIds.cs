using SegmentationEvents.ServiceDefaults;

namespace Storefront.Simulator.Generation;

/// <summary>Ids that depend only on the seed and a position, so runs are reproducible.</summary>
public static class DeterministicIds
{
    /// <summary>
    /// Re-running the simulator with the same seed republishes the same event ids, which the
    /// service must treat as duplicates.
    /// </summary>
    public static Guid EventId(int seed, long sequence) => NameBasedGuid.Create($"storefront-simulator:{seed}:{sequence}");

    /// <summary>Customer ids are distinct across seeds, so two seeds never share a customer.</summary>
    public static string CustomerId(int seed, int index) => $"sim{seed}-c{index:D6}";

    public static string OrderId(int seed, long sequence) => $"sim{seed}-o{sequence:D9}";
}
