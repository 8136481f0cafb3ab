using System.Globalization;
using System.Text.Json;
using Segmentation.Rules.Evaluation;

namespace Segmentation.Cli.History;

internal sealed record HistoryLine(string CustomerId, CustomerEvent Event);

internal sealed record HistoryReadResult(IReadOnlyList<HistoryLine> Lines, IReadOnlyList<string> Errors);

/// <summary>Reads `{"eventId","customerId","type","occurredAt","properties":{...}}` per line; a bad line is reported, not fatal.</summary>
internal static class JsonLinesHistory
{
    public static HistoryReadResult Read(string text, string fileName)
    {
        var lines = new List<HistoryLine>();
        var errors = new List<string>();
        var number = 0;
        foreach (var line in text.Split('\n'))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            try
            {
                using var document = JsonDocument.Parse(line);
                if (ReadLine(document.RootElement, out var parsed) is { } problem)
                {
                    errors.Add($"{fileName}:{number}: {problem}");
                }
                else
                {
                    lines.Add(parsed!);
                }
            }
            catch (JsonException exception)
            {
                errors.Add($"{fileName}:{number}: invalid JSON: {exception.Message}");
            }
        }

        return new HistoryReadResult(lines, errors);
    }

    private static string? ReadLine(JsonElement root, out HistoryLine? line)
    {
        line = null;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return "expected a JSON object";
        }

        if (!TryString(root, "eventId", out var eventId) || !TryString(root, "customerId", out var customerId)
            || !TryString(root, "type", out var type) || !TryString(root, "occurredAt", out var occurredText))
        {
            return "expected the string fields eventId, customerId, type and occurredAt";
        }

        if (!DateTimeOffset.TryParse(occurredText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var occurredAt))
        {
            return $"occurredAt `{occurredText}` is not an ISO-8601 timestamp";
        }

        var properties = new Dictionary<string, Value>(StringComparer.Ordinal);
        if (root.TryGetProperty("properties", out var bag))
        {
            if (bag.ValueKind != JsonValueKind.Object)
            {
                return "properties must be a JSON object";
            }

            foreach (var property in bag.EnumerateObject())
            {
                properties[property.Name] = property.Value.ValueKind switch
                {
                    JsonValueKind.Number => Value.FromNumber(property.Value.GetDouble()),
                    JsonValueKind.String => Value.FromString(property.Value.GetString()!),
                    JsonValueKind.True => Value.True,
                    JsonValueKind.False => Value.False,
                    _ => Value.Null,
                };
            }
        }

        line = new HistoryLine(customerId, new CustomerEvent { EventId = eventId, Type = type, OccurredAt = occurredAt, Properties = properties });
        return null;
    }

    private static bool TryString(JsonElement root, string name, out string value)
    {
        value = root.TryGetProperty(name, out var element) && element.ValueKind == JsonValueKind.String ? element.GetString()! : string.Empty;
        return value.Length > 0;
    }
}
