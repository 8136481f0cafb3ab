using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Value = Segmentation.Rules.Evaluation.Value;
using SegmentationEvents.Contracts;
using SegmentationEvents.ServiceDefaults;

namespace Segmentation.Service.Ingestion;

/// <summary>
/// Turns each upstream contract into the stored <see cref="CustomerEventRecorded"/>, refusing what no rule could read
/// correctly or what exceeds the limits of <see cref="IngestionOptions"/>. Every contract, typed or raw JSON, is first
/// mapped to one candidate shape and then checked by the same <see cref="Validate"/>, so a limit or a domain rule
/// cannot apply to one contract and not another. A refusal names the reason; the message then goes to the error
/// queue untouched, so nothing is lost and it can be replayed once fixed.
/// </summary>
public sealed partial class CustomerEventNormalizer(TimeProvider time, IngestionOptions options)
{
    private const int ExcerptLength = 40;

    /// <param name="messageBytes">The size of the message body as received, when known.</param>
    public AcceptedCustomerEvent Normalize(CustomerSignedUp m, long? messageBytes = null) =>
        Validate(Typed(m, WellKnownEventTypes.SignedUp, messageBytes, "properties", ("email", m.Email), ("country", m.Country)));

    public AcceptedCustomerEvent Normalize(OrderPurchased m, long? messageBytes = null)
    {
        if (string.IsNullOrWhiteSpace(m.OrderId)) throw new InvalidCustomerEventException("orderId is required");
        return Validate(Typed(m, WellKnownEventTypes.Purchased, messageBytes, "properties",
            ("amount", m.Amount), ("currency", m.Currency), ("orderId", m.OrderId)));
    }

    public AcceptedCustomerEvent Normalize(ProfileUpdated m, long? messageBytes = null) =>
        Validate(new Candidate(m.EventId.ToString(), m.CustomerId, WellKnownEventTypes.ProfileUpdated, m.OccurredAt,
            m.Attributes ?? new Dictionary<string, object?>(), "attributes", messageBytes));

    public AcceptedCustomerEvent Normalize(CustomerUnsubscribed m, long? messageBytes = null)
    {
        if (string.IsNullOrWhiteSpace(m.Channel)) throw new InvalidCustomerEventException("channel is required");
        return Validate(Typed(m, WellKnownEventTypes.Unsubscribed, messageBytes, "properties", ("channel", m.Channel)));
    }

    public AcceptedCustomerEvent Normalize(CustomerEvent m, long? messageBytes = null) =>
        Validate(new Candidate(m.EventId.ToString(), m.CustomerId, m.Type, m.OccurredAt,
            m.Properties ?? new Dictionary<string, object?>(), "properties", messageBytes));

    public AcceptedCustomerEvent Normalize(RawCustomerEvent m, long? messageBytes = null) =>
        Validate(new Candidate(m.EventId, m.CustomerId, m.Type, m.OccurredAt,
            m.Properties ?? new Dictionary<string, object?>(), "properties", messageBytes));

    /// <summary>Every contract's fields in one shape, before any check.</summary>
    private sealed record Candidate(
        string? EventId,
        string? CustomerId,
        string? Type,
        DateTimeOffset OccurredAt,
        IReadOnlyDictionary<string, object?> Properties,
        string PropertiesField,
        long? MessageBytes);

    /// <summary>A typed contract's optional fields become properties only when set.</summary>
    private static Candidate Typed(ICustomerLifecycleEvent m, string type, long? messageBytes, string field,
        params (string Name, object? Value)[] values) =>
        new(m.EventId.ToString(), m.CustomerId, type, m.OccurredAt,
            values.Where(v => v.Value is not null).ToDictionary(v => v.Name, v => v.Value, StringComparer.Ordinal), field, messageBytes);

    private AcceptedCustomerEvent Validate(Candidate c)
    {
        if (c.MessageBytes > options.MaxMessageBytes)
            throw new InvalidCustomerEventException($"the message is {c.MessageBytes} bytes, at most {options.MaxMessageBytes} are accepted");

        var customerId = CheckedCustomerId(c.CustomerId);
        var eventId = CheckedEventId(c.EventId);
        if (c.Type is null || !EventTypeName().IsMatch(c.Type))
            throw new InvalidCustomerEventException(
                $"type must be a name of letters, digits and underscores starting with a letter, was '{Excerpt(c.Type)}'");
        CheckLength("type", c.Type, options.MaxNameLength);

        if (c.OccurredAt == default) throw new InvalidCustomerEventException("occurredAt is required");
        var latestAccepted = time.GetUtcNow() + options.MaxClockSkew;
        if (c.OccurredAt > latestAccepted)
            throw new InvalidCustomerEventException(
                $"occurredAt {c.OccurredAt:O} is in the future (accepted up to {latestAccepted:O})");

        var properties = CheckedProperties(c.Properties, c.PropertiesField);
        CheckDomain(c.Type, properties, c.PropertiesField);
        return new AcceptedCustomerEvent(customerId, c.EventId!,
            new CustomerEventRecorded(eventId, c.Type, c.OccurredAt.ToUniversalTime(), properties));
    }

    private string CheckedCustomerId(string? customerId)
    {
        if (string.IsNullOrWhiteSpace(customerId)) throw new InvalidCustomerEventException("customerId is required");
        CheckLength("customerId", customerId, options.MaxCustomerIdLength);
        var position = customerId.AsSpan().IndexOfAnyExceptInRange('!', '~');
        if (position >= 0)
            throw new InvalidCustomerEventException(
                $"customerId must be printable ASCII without spaces ('!' to '~'), has U+{(int)customerId[position]:X4} at position {position}");
        return customerId;
    }

    private Guid CheckedEventId(string? eventId)
    {
        if (string.IsNullOrWhiteSpace(eventId)) throw new InvalidCustomerEventException("eventId is required");
        CheckLength("eventId", eventId, options.MaxEventIdLength);
        var id = EventIds.ToGuid(eventId);
        return id == Guid.Empty ? throw new InvalidCustomerEventException("eventId is required") : id;
    }

    private Dictionary<string, Value> CheckedProperties(IReadOnlyDictionary<string, object?> values, string field)
    {
        if (values.Count > options.MaxProperties)
            throw new InvalidCustomerEventException($"{field} has {values.Count} entries, at most {options.MaxProperties} are accepted");

        var result = new Dictionary<string, Value>(StringComparer.Ordinal);
        foreach (var (name, value) in values)
        {
            if (name.Length == 0) throw new InvalidCustomerEventException($"{field} has an entry with an empty name");
            CheckLength($"the name of {field}.{Excerpt(name)}", name, options.MaxNameLength);
            var scalar = ToValue(value) ?? throw new InvalidCustomerEventException(
                $"{field}.{name} must be a string, number, boolean or null, was {Describe(value)}");
            if (scalar.Kind == Segmentation.Rules.Evaluation.ValueKind.String)
                CheckLength($"{field}.{name}", scalar.AsString, options.MaxStringValueLength);
            result[name] = scalar;
        }
        return result;
    }

    /// <summary>Rules of the well-known event types, whichever contract the event arrived as.</summary>
    private static void CheckDomain(string type, Dictionary<string, Value> properties, string field)
    {
        switch (type)
        {
            case WellKnownEventTypes.Purchased when properties.TryGetValue("amount", out var amount):
                if (amount.Kind != Segmentation.Rules.Evaluation.ValueKind.Number)
                    throw new InvalidCustomerEventException($"amount must be a number, was {amount}");
                if (amount.AsNumber < 0) throw new InvalidCustomerEventException($"amount must not be negative, was {amount}");
                break;
            case WellKnownEventTypes.ProfileUpdated when properties.Count == 0:
                throw new InvalidCustomerEventException($"{field} must name at least one attribute");
        }
    }

    private static void CheckLength(string what, string value, int maximum)
    {
        if (value.Length > maximum)
            throw new InvalidCustomerEventException($"{what} is {value.Length} characters long, at most {maximum} are accepted");
    }

    /// <summary>The start of a value quoted in a reason, so a refusal of a huge value stays readable.</summary>
    private static string? Excerpt(string? value) => value is { Length: > ExcerptLength } ? value[..ExcerptLength] + "..." : value;

    /// <summary>The rule-language value of a scalar; null for anything nested.</summary>
    private static Value? ToValue(object? value) => value switch
    {
        null => Value.Null,
        string s => Value.FromString(s),
        bool b => Value.FromBool(b),
        decimal or double or float or int or long or short or byte => Value.FromNumber(Convert.ToDouble(value, CultureInfo.InvariantCulture)),
        JsonElement { ValueKind: JsonValueKind.Null or JsonValueKind.Undefined } => Value.Null,
        JsonElement { ValueKind: JsonValueKind.String } e => Value.FromString(e.GetString()!),
        JsonElement { ValueKind: JsonValueKind.True } => Value.True,
        JsonElement { ValueKind: JsonValueKind.False } => Value.False,
        JsonElement { ValueKind: JsonValueKind.Number } e => Value.FromNumber(e.GetDouble()),
        _ => null,
    };

    private static string Describe(object? value) => value is JsonElement e ? e.ValueKind.ToString() : value?.GetType().Name ?? "null";

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9_]*$")]
    private static partial Regex EventTypeName();
}

public sealed class InvalidCustomerEventException(string reason) : Exception($"Invalid customer event: {reason}");

/// <summary>
/// What ingestion accepts. Bound from <c>Segmentation:Ingestion:*</c>; README "Messages" lists the limits with their
/// defaults. Lengths count UTF-16 characters (for customer ids, which are ASCII, characters are bytes).
/// </summary>
public sealed class IngestionOptions
{
    /// <summary>How far ahead of this service's clock an event's occurrence time may be.</summary>
    public TimeSpan MaxClockSkew { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Longest customer id; its characters must be printable ASCII without spaces.</summary>
    public int MaxCustomerIdLength { get; set; } = 128;

    /// <summary>Longest event id sent as a string on the raw endpoint.</summary>
    public int MaxEventIdLength { get; set; } = 128;

    /// <summary>Longest event type name and property (attribute) name.</summary>
    public int MaxNameLength { get; set; } = 128;

    /// <summary>Most properties (attributes) on one event.</summary>
    public int MaxProperties { get; set; } = 64;

    /// <summary>Longest string property (attribute) value.</summary>
    public int MaxStringValueLength { get; set; } = 4096;

    /// <summary>Largest message body as received from RabbitMQ (for typed messages, the MassTransit envelope).</summary>
    public int MaxMessageBytes { get; set; } = 64 * 1024;

    /// <summary>Most events decided and committed in one transaction.</summary>
    public int BatchSize { get; set; } = 64;

    /// <summary>
    /// How long a writer waits for a batch to fill once it has an event; zero commits what is waiting at once (batches
    /// still fill under load, while the previous commit runs).
    /// </summary>
    public TimeSpan BatchWait { get; set; } = TimeSpan.Zero;

    /// <summary>Batches committed at once; each writer owns the customers whose id hashes to it.</summary>
    public int Writers { get; set; } = 2;
}
