using System.Security.Cryptography;
using System.Text;

namespace Storefront.Simulator.Generation;

/// <summary>Ids that depend only on the seed and a position, so runs are reproducible.</summary>
public static class DeterministicIds
{
    /// <summary>
    /// A name-based UUID (version 5 layout, SHA-256 instead of SHA-1) of "seed:sequence".
    /// Re-running the simulator with the same seed republishes the same event ids, which the
    /// service must treat as duplicates.
    /// </summary>
    public static Guid EventId(int seed, long sequence)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes($"storefront-simulator:{seed}:{sequence}"), hash);
        var bytes = hash[..16];
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x50); // version 5
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // RFC 4122 variant
        return new Guid(bytes, bigEndian: true);
    }

    /// <summary>Customer ids are distinct across seeds, so two seeds never share a customer.</summary>
    public static string CustomerId(int seed, int index) => $"sim{seed}-c{index:D6}";

    public static string OrderId(int seed, long sequence) => $"sim{seed}-o{sequence:D9}";
}
