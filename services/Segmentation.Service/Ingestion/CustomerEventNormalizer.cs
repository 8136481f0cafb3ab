using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Value = Segmentation.Rules.Evaluation.Value;
using SegmentationEvents.Contracts;

namespace Segmentation.Service.Ingestion;

/// <summary>
/// Turns each upstream contract into the stored <see cref="CustomerEventRecorded"/>, refusing
/// what no rule could read correctly. A refusal names the reason; the message then goes to the
/// error queue untouched, so nothing is lost and it can be replayed once fixed.
/// </summary>
public sealed partial class CustomerEventNormalizer(TimeProvider time, IngestionOptions options)
{
    public CustomerEventRecorded Normalize(CustomerSignedUp m) =>
        Checked(m, WellKnownEventTypes.SignedUp, Properties(("email", m.Email), ("country", m.Country)));

    public CustomerEventRecorded Normalize(OrderPurchased m)
    {
        if (m.Amount < 0) throw new InvalidCustomerEventException($"amount must not be negative, was {m.Amount}");
        if (string.IsNullOrWhiteSpace(m.OrderId)) throw new InvalidCustomerEventException("orderId is required");
        return Checked(m, WellKnownEventTypes.Purchased,
            Properties(("amount", m.Amount), ("currency", m.Currency), ("orderId", m.OrderId)));
    }

    public CustomerEventRecorded Normalize(ProfileUpdated m)
    {
        if (m.Attributes is null || m.Attributes.Count == 0)
            throw new InvalidCustomerEventException("attributes must name at least one attribute");
        return Checked(m, WellKnownEventTypes.ProfileUpdated, ScalarProperties(m.Attributes, "attributes"));
    }

    public CustomerEventRecorded Normalize(CustomerUnsubscribed m)
    {
        if (string.IsNullOrWhiteSpace(m.Channel)) throw new InvalidCustomerEventException("channel is required");
        return Checked(m, WellKnownEventTypes.Unsubscribed, Properties(("channel", m.Channel)));
    }

    public CustomerEventRecorded Normalize(CustomerEvent m)
    {
        if (m.Type is null || !EventTypeName().IsMatch(m.Type))
            throw new InvalidCustomerEventException(
                $"type must be a name of letters, digits and underscores starting with a letter, was '{m.Type}'");
        return Checked(m, m.Type, ScalarProperties(m.Properties ?? new Dictionary<string, object?>(), "properties"));
    }

    private CustomerEventRecorded Checked(ICustomerLifecycleEvent m, string type, Dictionary<string, Value> properties)
    {
        if (string.IsNullOrWhiteSpace(m.CustomerId)) throw new InvalidCustomerEventException("customerId is required");
        if (m.EventId == Guid.Empty) throw new InvalidCustomerEventException("eventId is required");
        if (m.OccurredAt == default) throw new InvalidCustomerEventException("occurredAt is required");

        var latestAccepted = time.GetUtcNow() + options.MaxClockSkew;
        if (m.OccurredAt > latestAccepted)
            throw new InvalidCustomerEventException(
                $"occurredAt {m.OccurredAt:O} is in the future (accepted up to {latestAccepted:O})");

        return new CustomerEventRecorded(m.EventId, type, m.OccurredAt.ToUniversalTime(), properties);
    }

    private static Dictionary<string, Value> Properties(params (string Name, object? Value)[] values) =>
        values.Where(v => v.Value is not null)
            .ToDictionary(v => v.Name, v => ToValue(v.Value) ?? Value.Null, StringComparer.Ordinal);

    private static Dictionary<string, Value> ScalarProperties(IReadOnlyDictionary<string, object?> values, string field)
    {
        var result = new Dictionary<string, Value>(StringComparer.Ordinal);
        foreach (var (name, value) in values)
        {
            result[name] = ToValue(value) ?? throw new InvalidCustomerEventException(
                $"{field}.{name} must be a string, number, boolean or null, was {Describe(value)}");
        }
        return result;
    }

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

public sealed class IngestionOptions
{
    /// <summary>How far ahead of this service's clock an event's occurrence time may be.</summary>
    public TimeSpan MaxClockSkew { get; set; } = TimeSpan.FromMinutes(5);
}
