using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Segmentation.Rules.Evaluation;

public enum ValueKind : byte { Null, Number, String, Bool, Timestamp, Duration }

/// <summary>
/// A value of the rule language, also the JSON-ish value of an event property. A struct so evaluation allocates nothing.
/// Timestamps are kept as UTC ticks. In JSON, timestamps and durations are written as ISO strings and read back as strings.
/// </summary>
[JsonConverter(typeof(ValueJsonConverter))]
public readonly struct Value : IEquatable<Value>
{
    private readonly double number;
    private readonly long ticks;
    private readonly string? text;

    private Value(ValueKind kind, double number, long ticks, string? text)
    {
        Kind = kind;
        this.number = number;
        this.ticks = ticks;
        this.text = text;
    }

    public ValueKind Kind { get; }

    public bool IsNull => Kind == ValueKind.Null;

    public static Value Null => default;

    public static Value True { get; } = FromBool(true);

    public static Value False { get; } = FromBool(false);

    public static Value FromNumber(double value) => new(ValueKind.Number, value, 0, null);

    public static Value FromString(string value) => new(ValueKind.String, 0, 0, value);

    public static Value FromBool(bool value) => new(ValueKind.Bool, 0, value ? 1 : 0, null);

    public static Value FromTimestamp(DateTimeOffset value) => new(ValueKind.Timestamp, 0, value.UtcTicks, null);

    public static Value FromTimestampTicks(long utcTicks) => new(ValueKind.Timestamp, 0, utcTicks, null);

    public static Value FromDuration(TimeSpan value) => new(ValueKind.Duration, 0, value.Ticks, null);

    public double AsNumber => number;

    public string AsString => text ?? string.Empty;

    public bool AsBool => Kind == ValueKind.Bool && ticks != 0;

    /// <summary>UTC ticks of a timestamp or ticks of a duration.</summary>
    public long Ticks => ticks;

    public DateTimeOffset AsTimestamp => new(ticks, TimeSpan.Zero);

    public TimeSpan AsDuration => new(ticks);

    public bool Equals(Value other) => Kind == other.Kind && Kind switch
    {
        ValueKind.Null => true,
        ValueKind.Number => number.Equals(other.number),
        ValueKind.String => string.Equals(text, other.text, StringComparison.Ordinal),
        _ => ticks == other.ticks,
    };

    public override bool Equals(object? obj) => obj is Value other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(Kind, number, ticks, text);

    public static bool operator ==(Value left, Value right) => left.Equals(right);

    public static bool operator !=(Value left, Value right) => !left.Equals(right);

    public override string ToString() => Kind switch
    {
        ValueKind.Null => "null",
        ValueKind.Number => number.ToString("G", CultureInfo.InvariantCulture),
        ValueKind.String => "\"" + text + "\"",
        ValueKind.Bool => AsBool ? "true" : "false",
        ValueKind.Timestamp => FormatTimestamp(AsTimestamp),
        _ => FormatDuration(AsDuration),
    };

    public static string FormatTimestamp(DateTimeOffset value) =>
        value.UtcDateTime.ToString(value.UtcDateTime.TimeOfDay.Ticks % TimeSpan.TicksPerSecond == 0 ? "yyyy-MM-dd'T'HH:mm:ss'Z'" : "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    private static string FormatDuration(TimeSpan value) =>
        value.Ticks % TimeSpan.TicksPerDay == 0 ? $"{value.Ticks / TimeSpan.TicksPerDay}d"
        : value.Ticks % TimeSpan.TicksPerHour == 0 ? $"{value.Ticks / TimeSpan.TicksPerHour}h"
        : $"{value.TotalMinutes.ToString(CultureInfo.InvariantCulture)}m";
}

public sealed class ValueJsonConverter : JsonConverter<Value>
{
    public override bool HandleNull => true;

    public override Value Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Number:
                return Value.FromNumber(reader.GetDouble());
            case JsonTokenType.String:
                return Value.FromString(reader.GetString()!);
            case JsonTokenType.True:
                return Value.True;
            case JsonTokenType.False:
                return Value.False;
            case JsonTokenType.StartObject or JsonTokenType.StartArray:
                // Nested JSON has no meaning in the rule language; it reads as null rather than failing the whole event.
                reader.Skip();
                return Value.Null;
            default:
                return Value.Null;
        }
    }

    public override void Write(Utf8JsonWriter writer, Value value, JsonSerializerOptions options)
    {
        switch (value.Kind)
        {
            case ValueKind.Number:
                writer.WriteNumberValue(value.AsNumber);
                break;
            case ValueKind.String:
                writer.WriteStringValue(value.AsString);
                break;
            case ValueKind.Bool:
                writer.WriteBooleanValue(value.AsBool);
                break;
            case ValueKind.Timestamp or ValueKind.Duration:
                writer.WriteStringValue(value.ToString());
                break;
            default:
                writer.WriteNullValue();
                break;
        }
    }
}
