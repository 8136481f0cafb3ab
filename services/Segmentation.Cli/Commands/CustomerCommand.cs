using System.CommandLine;
using System.Net;
using System.Text.Json;
using Segmentation.Rules.Membership;

namespace Segmentation.Cli.Commands;

/// <summary>
/// What the live service knows of one customer, from its admin API: <c>segctl customer</c> (GET /customers/{id}) and
/// <c>segctl explain</c> (GET /customers/{id}/explain, every condition's value under the active ruleset now).
/// </summary>
internal static class CustomerCommand
{
    public static Command Create() => Build(
        "customer", "show a customer's profile, held segments (since, ruleset version) and blocked segments",
        [], (id, _) => $"customers/{Uri.EscapeDataString(id)}", Print);

    public static Command CreateExplain()
    {
        var segment = new Option<string?>("--segment") { Description = "explain this segment only" };
        return Build(
            "explain", "explain, live, why a customer is or is not in each segment: every sub-expression's value, holder, cooldown, next change",
            [segment],
            (id, parse) => $"customers/{Uri.EscapeDataString(id)}/explain"
                + (parse.GetValue(segment) is { } name ? $"?segment={Uri.EscapeDataString(name)}" : string.Empty),
            PrintExplanation);
    }

    private static Command Build(
        string name, string description, Option[] extra, Func<string, ParseResult, string> path, Action<JsonElement, TextWriter> print)
    {
        var customerId = new Argument<string>("customer-id") { Description = "the customer's id" };
        var service = new AdminServiceOptions();
        var json = new Option<bool>("--json") { Description = "print the raw JSON" };
        var command = new Command(name, description) { customerId, json };
        service.AddTo(command);
        foreach (var option in extra) command.Options.Add(option);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            var id = parse.GetRequiredValue(customerId);
            using var http = service.Connect(parse, error);
            if (http is null) return 2;
            HttpResponseMessage response;
            try
            {
                response = await http.GetAsync(new Uri(path(id, parse), UriKind.Relative), cancellationToken);
            }
            catch (HttpRequestException exception)
            {
                error.WriteLine($"segctl: cannot reach {http.BaseAddress}: {exception.Message}");
                return 2;
            }

            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                error.WriteLine($"segctl: {Text(JsonDocument.Parse(body).RootElement, "error")}");
                return 1;
            }

            if (!response.IsSuccessStatusCode)
            {
                error.WriteLine($"segctl: {(int)response.StatusCode} {response.ReasonPhrase}: {body}");
                return 2;
            }

            if (parse.GetValue(json))
            {
                output.WriteLine(body);
                return 0;
            }

            print(JsonDocument.Parse(body).RootElement, output);
            return 0;
        });
        return command;
    }

    private static void PrintExplanation(JsonElement explanation, TextWriter output)
    {
        output.WriteLine($"customer {explanation.GetProperty("customerId").GetString()} at {explanation.GetProperty("at")}" +
            $"  (ruleset {Text(explanation, "rulesetVersion")}, next check {Text(explanation, "nextCheckAt")})");
        foreach (var segment in explanation.GetProperty("segments").EnumerateArray())
        {
            output.Write(segment.GetProperty("explanation").Deserialize<SegmentExplanation>(JsonOptions)!.Render());
            output.WriteLine($"  next change without a new event: {Text(segment, "nextChangeAt")}");
        }
    }

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    private static void Print(JsonElement customer, TextWriter output)
    {
        output.WriteLine($"customer {customer.GetProperty("customerId").GetString()}" +
            $"  (ruleset {Text(customer, "rulesetVersion")}, next check {Text(customer, "nextCheckAt")})");
        output.WriteLine("attributes:");
        foreach (var attribute in customer.GetProperty("attributes").EnumerateObject())
            output.WriteLine($"  {attribute.Name} = {attribute.Value.GetRawText()}");
        output.WriteLine("events:");
        foreach (var type in customer.GetProperty("eventTypes").EnumerateObject())
            output.WriteLine($"  {type.Name,-16} {type.Value.GetProperty("count")} (first {type.Value.GetProperty("firstAt")}, last {type.Value.GetProperty("lastAt")})");
        output.WriteLine("segments:");
        foreach (var segment in customer.GetProperty("segments").EnumerateObject())
            output.WriteLine($"  {segment.Name,-16} since {segment.Value.GetProperty("since")}  group {Text(segment.Value, "group")}" +
                $"  channel {Text(segment.Value, "channel")}  ruleset {Text(segment.Value, "rulesetVersion")}");
        output.WriteLine("blocked:");
        foreach (var blocked in customer.GetProperty("blocked").EnumerateArray())
            output.WriteLine($"  {blocked.GetProperty("segment").GetString(),-16} {blocked.GetProperty("reason").GetString()}");
    }

    private static string Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value.ToString() : "-";
}
