using System.Security.Cryptography;
using System.Text;

namespace SegmentationEvents.ServiceDefaults;

/// <summary>
/// A name-based UUID (version 5 layout, SHA-256 instead of SHA-1): the same name always gives the same id, so
/// republishing a history or re-running a seeded simulation yields duplicates the service recognises.
/// </summary>
public static class NameBasedGuid
{
    public static Guid Create(string name)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(name), hash);
        var bytes = hash[..16];
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x50); // version 5
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // RFC 4122 variant
        return new Guid(bytes, bigEndian: true);
    }
}
