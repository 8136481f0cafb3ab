using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Segmentation.Rules.Language;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace Segmentation.Rules.Rulesets;

/// <summary>Reads a ruleset YAML document, parses and type-checks every condition, and reports every error with its file position.</summary>
public sealed class RulesetLoader
{
    private static readonly string[] TopLevelKeys = ["attributes", "groups", "segments"];
    private static readonly string[] GroupKeys = ["exclusive", "cooldown", "on_conflict"];
    private static readonly string[] SegmentKeys = ["group", "priority", "channel", "when"];
    private static readonly HashSet<string> FunctionNames = new(StringComparer.Ordinal)
    {
        "count", "sum", "min", "max", "avg", "first", "last", "days_since", "hours_since",
    };

    private readonly string text;
    private readonly string fileName;
    private readonly List<RuleError> errors = [];
    private readonly int[] lineStarts;

    private RulesetLoader(string text, string fileName)
    {
        this.text = text;
        this.fileName = fileName;
        var starts = new List<int> { 0 };
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\n')
            {
                starts.Add(i + 1);
            }
        }

        lineStarts = [.. starts];
    }

    public static RulesetLoadResult Load(string yamlText, string fileName) => new RulesetLoader(yamlText, fileName).Load();

    private RulesetLoadResult Load()
    {
        YamlNode? root;
        try
        {
            var stream = new YamlStream();
            stream.Load(new DepthLimitedParser(new Parser(new StringReader(text))));
            root = stream.Documents.Count == 0 ? null : stream.Documents[0].RootNode;
        }
        catch (YamlException exception)
        {
            var message = exception.InnerException?.Message ?? exception.Message;
            Error(new SourceLocation((int)exception.Start.Line, (int)exception.Start.Column), $"invalid YAML: {message}");
            return new RulesetLoadResult(null, errors);
        }
        catch (ArgumentException exception)
        {
            // YamlDotNet rejects some malformed tags with an ArgumentException that carries no position.
            Error(new SourceLocation(1, 1), $"invalid YAML: {exception.Message}");
            return new RulesetLoadResult(null, errors);
        }

        if (root is not YamlMappingNode document)
        {
            Error(new SourceLocation(1, 1), "expected a mapping with the keys attributes, groups and segments");
            return new RulesetLoadResult(null, errors);
        }

        var attributes = new Dictionary<string, AttributeType>(StringComparer.Ordinal);
        var groups = new Dictionary<string, SegmentGroup>(StringComparer.Ordinal);
        YamlNode? segmentsNode = null;
        foreach (var (keyNode, value) in document.Children)
        {
            var key = KeyName(keyNode);
            switch (key)
            {
                case "attributes":
                    ReadAttributes(value, attributes);
                    break;
                case "groups":
                    ReadGroups(value, groups);
                    break;
                case "segments":
                    segmentsNode = value;
                    break;
                default:
                    Error(keyNode, $"unknown key `{key}`; expected one of {string.Join(", ", TopLevelKeys)}");
                    break;
            }
        }

        var segments = segmentsNode is null ? [] : ReadSegments(segmentsNode, attributes, groups);
        if (segmentsNode is null)
        {
            Error(document, "missing `segments`; a ruleset defines at least one segment");
        }

        if (errors.Count > 0)
        {
            return new RulesetLoadResult(null, errors.OrderBy(e => e.Line).ThenBy(e => e.Column).ToList());
        }

        var eventTypes = new HashSet<string>(Ruleset.BuiltInEventTypes, StringComparer.Ordinal);
        foreach (var segment in segments)
        {
            eventTypes.UnionWith(segment.Condition.DescendantsAndSelf().OfType<EventAggregate>().Select(a => a.EventType));
        }

        var fingerprint = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];
        return new RulesetLoadResult(new Ruleset(fileName, fingerprint, attributes, groups, segments, eventTypes), []);
    }

    private void ReadAttributes(YamlNode node, Dictionary<string, AttributeType> attributes)
    {
        if (!IsMapping(node, "attributes as `name: type`", out var mapping))
        {
            return;
        }

        foreach (var (keyNode, value) in mapping.Children)
        {
            var name = KeyName(keyNode);
            if (!IsValidName(name) || ExpressionParser.Keywords.Contains(name) || FunctionNames.Contains(name))
            {
                Error(keyNode, $"`{name}` cannot be an attribute name; expected a name of letters, digits and _ that is not a keyword or function");
                continue;
            }

            if (ReadAttributeType(value) is { } type)
            {
                attributes[name] = type;
            }
        }
    }

    private AttributeType? ReadAttributeType(YamlNode node)
    {
        const string expected = "expected string, number, bool, timestamp or { enum: [...] }";
        if (node is YamlScalarNode scalar)
        {
            switch (scalar.Value)
            {
                case "string": return new AttributeType(ExprType.String);
                case "number": return new AttributeType(ExprType.Number);
                case "bool": return new AttributeType(ExprType.Bool);
                case "timestamp": return new AttributeType(ExprType.Timestamp);
                default:
                    Error(node, $"unknown attribute type `{scalar.Value}`; {expected}");
                    return null;
            }
        }

        if (node is YamlMappingNode mapping && mapping.Children.Count == 1
            && KeyName(mapping.Children.First().Key) == "enum" && mapping.Children.First().Value is YamlSequenceNode values)
        {
            var names = new List<string>();
            foreach (var item in values.Children)
            {
                if (item is YamlScalarNode { Value: { Length: > 0 } value })
                {
                    names.Add(value);
                }
                else
                {
                    Error(item, "expected an enum value (a plain string)");
                }
            }

            if (names.Count == 0)
            {
                Error(node, "expected at least one enum value");
            }

            return new AttributeType(ExprType.String, names);
        }

        Error(node, expected);
        return null;
    }

    private void ReadGroups(YamlNode node, Dictionary<string, SegmentGroup> groups)
    {
        if (!IsMapping(node, "groups as `name: { exclusive, cooldown, on_conflict }`", out var mapping))
        {
            return;
        }

        foreach (var (keyNode, value) in mapping.Children)
        {
            var name = KeyName(keyNode);
            if (!IsMapping(value, "a group as `{ exclusive: true, cooldown: 24h, on_conflict: priority }`", out var settings))
            {
                continue;
            }

            var exclusive = false;
            var cooldown = TimeSpan.Zero;
            var policy = ConflictPolicy.Priority;
            foreach (var (settingKey, settingValue) in settings.Children)
            {
                switch (KeyName(settingKey))
                {
                    case "exclusive":
                        exclusive = ReadBool(settingValue) ?? false;
                        break;
                    case "cooldown":
                        cooldown = ReadDuration(settingValue) ?? TimeSpan.Zero;
                        break;
                    case "on_conflict":
                        policy = ReadScalar(settingValue) switch
                        {
                            "priority" => ConflictPolicy.Priority,
                            "reject" => ConflictPolicy.Reject,
                            var other => ErrorThen(settingValue, $"unknown on_conflict `{other}`; expected priority or reject", ConflictPolicy.Priority),
                        };
                        break;
                    default:
                        Error(settingKey, $"unknown group setting `{KeyName(settingKey)}`; expected one of {string.Join(", ", GroupKeys)}");
                        break;
                }
            }

            if (!exclusive && cooldown > TimeSpan.Zero)
            {
                Error(value, $"group `{name}` has a cooldown but is not exclusive; a cooldown limits entries into an exclusive group, so set exclusive: true");
            }

            groups[name] = new SegmentGroup(name, exclusive, cooldown, policy, LocationOf(keyNode));
        }
    }

    private List<SegmentRule> ReadSegments(YamlNode node, Dictionary<string, AttributeType> attributes, Dictionary<string, SegmentGroup> groups)
    {
        var segments = new List<SegmentRule>();
        if (!IsMapping(node, "segments as `name: { group, priority, channel, when }`", out var mapping))
        {
            return segments;
        }

        foreach (var (keyNode, value) in mapping.Children)
        {
            var name = KeyName(keyNode);
            if (!IsMapping(value, "a segment with at least `when: <condition>`", out var settings))
            {
                continue;
            }

            string? group = null;
            var priority = 0;
            string? channel = null;
            YamlScalarNode? when = null;
            foreach (var (settingKey, settingValue) in settings.Children)
            {
                switch (KeyName(settingKey))
                {
                    case "group":
                        group = ReadScalar(settingValue);
                        if (group is not null && !groups.ContainsKey(group))
                        {
                            var known = groups.Count == 0 ? "no groups are declared" : "expected one of " + string.Join(", ", groups.Keys);
                            Error(settingValue, $"unknown group `{group}`; {known}");
                        }

                        break;
                    case "priority":
                        var priorityText = ReadScalar(settingValue);
                        if (!int.TryParse(priorityText, NumberStyles.Integer, CultureInfo.InvariantCulture, out priority))
                        {
                            Error(settingValue, $"expected an integer priority, found `{priorityText}`");
                        }

                        break;
                    case "channel":
                        channel = ReadScalar(settingValue);
                        break;
                    case "when":
                        when = settingValue as YamlScalarNode;
                        if (when is null)
                        {
                            Error(settingValue, "expected the condition as a single string");
                        }

                        break;
                    default:
                        Error(settingKey, $"unknown segment setting `{KeyName(settingKey)}`; expected one of {string.Join(", ", SegmentKeys)}");
                        break;
                }
            }

            if (when is null)
            {
                Error(keyNode, $"segment `{name}` has no `when` condition");
                continue;
            }

            if (ReadCondition(when, attributes) is { } condition)
            {
                segments.Add(condition with { Name = name, Group = group, Priority = priority, Channel = channel, Location = LocationOf(keyNode) });
            }
        }

        return segments;
    }

    private SegmentRule? ReadCondition(YamlScalarNode when, Dictionary<string, AttributeType> attributes)
    {
        var conditionText = when.Value ?? string.Empty;
        var locations = MapScalar(when, conditionText);
        var parsed = ExpressionParser.Parse(conditionText);
        if (parsed.Error is { } parseError)
        {
            Error(locations[Math.Clamp(parseError.Offset, 0, locations.Length - 1)], parseError.Message);
            return null;
        }

        var typeErrors = TypeChecker.CheckCondition(parsed.Expression!, attributes);
        foreach (var typeError in typeErrors)
        {
            Error(locations[Math.Clamp(typeError.Offset, 0, locations.Length - 1)], typeError.Message);
        }

        return typeErrors.Count > 0
            ? null
            : new SegmentRule(string.Empty, null, 0, null, conditionText, parsed.Expression!, default) { ConditionLocations = locations };
    }

    /// <summary>
    /// Maps each character of a scalar's value back to its place in the file. Folding and quoting only change whitespace,
    /// quotes and escapes, so each non-blank value character is matched to the next identical character in the raw text.
    /// </summary>
    private SourceLocation[] MapScalar(YamlScalarNode scalar, string value)
    {
        var rawStart = (int)scalar.Start.Index;
        var rawEnd = Math.Min((int)scalar.End.Index, text.Length);
        var raw = rawStart;
        if (scalar.Style is ScalarStyle.Literal or ScalarStyle.Folded)
        {
            var newline = text.IndexOf('\n', rawStart);
            raw = newline < 0 ? rawStart : newline + 1;
        }
        else if (scalar.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted)
        {
            raw++;
        }

        var locations = new SourceLocation[value.Length + 1];
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (!char.IsWhiteSpace(c))
            {
                var found = raw;
                while (found < rawEnd && text[found] != c)
                {
                    found++;
                }

                if (found < rawEnd)
                {
                    raw = found;
                }
            }

            locations[i] = LocationAt(raw);
            if (raw < rawEnd && text[raw] == c)
            {
                raw++;
            }
        }

        locations[value.Length] = LocationAt(raw);
        return locations;
    }

    private SourceLocation LocationAt(int index)
    {
        var line = Array.BinarySearch(lineStarts, index);
        if (line < 0)
        {
            line = ~line - 1;
        }

        return new SourceLocation(line + 1, index - lineStarts[line] + 1);
    }

    private static bool IsValidName(string name) =>
        name.Length > 0 && (char.IsAsciiLetter(name[0]) || name[0] == '_') && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    private bool IsMapping(YamlNode node, string expected, out YamlMappingNode mapping)
    {
        if (node is YamlMappingNode found)
        {
            mapping = found;
            return true;
        }

        mapping = null!;
        if (!(node is YamlScalarNode { Value: null or "" } && node.Tag.IsEmpty))
        {
            Error(node, $"expected {expected}");
        }

        return false;
    }

    private static string KeyName(YamlNode key) => key is YamlScalarNode scalar ? scalar.Value ?? string.Empty : key.ToString();

    private string? ReadScalar(YamlNode node)
    {
        if (node is YamlScalarNode scalar)
        {
            return scalar.Value;
        }

        Error(node, "expected a single value");
        return null;
    }

    private bool? ReadBool(YamlNode node) => ReadScalar(node) switch
    {
        "true" => true,
        "false" => false,
        var other => ErrorThen<bool?>(node, $"expected true or false, found `{other}`", null),
    };

    private TimeSpan? ReadDuration(YamlNode node)
    {
        var value = ReadScalar(node);
        if (value is not null && System.Text.RegularExpressions.Regex.IsMatch(value, @"^\d+(\.\d+)?[dhm]$"))
        {
            return ExpressionParser.ParseDuration(value);
        }

        return ErrorThen<TimeSpan?>(node, $"expected a duration such as 24h, 7d or 30m, found `{value}`", null);
    }

    private T ErrorThen<T>(YamlNode node, string message, T fallback)
    {
        Error(node, message);
        return fallback;
    }

    private static SourceLocation LocationOf(YamlNode node) => new((int)node.Start.Line, (int)node.Start.Column);

    private void Error(YamlNode node, string message) => Error(LocationOf(node), message);

    private void Error(SourceLocation location, string message) => errors.Add(new RuleError(fileName, location.Line, location.Column, message));
}

/// <summary>
/// Refuses YAML nested deeper than <see cref="RuleLimits.MaxYamlDepth"/> before YamlDotNet's document model, which
/// recurses per level, builds it: a few kilobytes of brackets must be an error, not a stack overflow.
/// </summary>
internal sealed class DepthLimitedParser(IParser inner) : IParser
{
    private int depth;

    public ParsingEvent? Current => inner.Current;

    public bool MoveNext()
    {
        if (!inner.MoveNext())
        {
            return false;
        }

        switch (inner.Current)
        {
            case MappingStart or SequenceStart when ++depth > RuleLimits.MaxYamlDepth:
                throw new YamlException(inner.Current.Start, inner.Current.End,
                    $"nested too deeply: more than {RuleLimits.MaxYamlDepth} levels of mappings and sequences");
            case MappingEnd or SequenceEnd:
                depth--;
                break;
        }

        return true;
    }
}
