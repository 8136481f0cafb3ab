using System.Buffers;
using System.Security.Cryptography;
using System.Text.Json;

namespace Segmentation.Service.Ingestion;

/// <summary>
/// An upstream event that passed validation: the customer, the event id as the publisher sent it (for reasons a
/// publisher recognises), the event as it is stored, and the hash that tells a redelivery from a reused id.
/// </summary>
public sealed record AcceptedCustomerEvent(string CustomerId, string EventIdAsSent, CustomerEventRecorded Event)
{
    /// <summary>
    /// SHA-256 (hex) over the customer, the type, the UTC occurrence time and the properties sorted by name: the same
    /// event sent by any contract, in any property order, hashes the same.
    /// </summary>
    public string ContentHash => _contentHash ??= Hash(CustomerId, Event);

    private string? _contentHash;

    private static string Hash(string customerId, CustomerEventRecorded recorded)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            json.WriteStringValue(customerId);
            json.WriteStringValue(recorded.Type);
            json.WriteNumberValue(recorded.OccurredAt.UtcTicks);
            foreach (var (name, value) in recorded.Properties.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                json.WriteStringValue(name);
                JsonSerializer.Serialize(json, value);
            }
            json.WriteEndArray();
        }
        return Convert.ToHexStringLower(SHA256.HashData(buffer.WrittenSpan));
    }
}

/// <summary>
/// The plain JSON body of the raw endpoint (README, "Messages"): the fields of the <c>CustomerEvent</c> contract, but
/// with the event id as any non-empty string (a GUID, a ULID, a publisher's own id), mapped to the stored GUID by
/// <see cref="SegmentationEvents.ServiceDefaults.EventIds.ToGuid"/>.
/// </summary>
public sealed record RawCustomerEvent(
    string? EventId,
    string? CustomerId,
    string? Type,
    DateTimeOffset OccurredAt,
    IReadOnlyDictionary<string, object?>? Properties = null);
