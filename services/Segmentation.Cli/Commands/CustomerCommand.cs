using System.CommandLine;
using System.Net;
using System.Text.Json;

namespace Segmentation.Cli.Commands;

/// <summary>Prints what the live service knows of one customer (GET /customers/{id} of the admin API).</summary>
internal static class CustomerCommand
{
    public static Command Create()
    {
        var customerId = new Argument<string>("customer-id") { Description = "the customer's id" };
        var service = new Option<string>("--service")
        {
            Description = "admin API of the segmentation service (default: $SEGMENTATION_URL or http://127.0.0.1:5080)",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("SEGMENTATION_URL") ?? "http://127.0.0.1:5080",
        };
        var apiKey = new Option<string?>("--api-key")
        {
            Description = "admin API key, needed unless the service runs on this machine (default: $SEGMENTATION_API_KEY)",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("SEGMENTATION_API_KEY"),
        };
        var json = new Option<bool>("--json") { Description = "print the raw JSON" };
        var command = new Command("customer", "show a customer's profile, held segments (since, ruleset version) and blocked segments")
        {
            customerId, service, apiKey, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            var id = parse.GetRequiredValue(customerId);
            if (!Uri.TryCreate(parse.GetRequiredValue(service), UriKind.Absolute, out var serviceUrl))
            {
                error.WriteLine($"segctl: --service must be an absolute URL, was '{parse.GetValue(service)}'");
                return 2;
            }

            using var http = new HttpClient { BaseAddress = serviceUrl };
            if (parse.GetValue(apiKey) is { Length: > 0 } key) http.DefaultRequestHeaders.Add("X-Api-Key", key);
            HttpResponseMessage response;
            try
            {
                response = await http.GetAsync(new Uri($"customers/{Uri.EscapeDataString(id)}", UriKind.Relative), cancellationToken);
            }
            catch (HttpRequestException exception)
            {
                error.WriteLine($"segctl: cannot reach {http.BaseAddress}: {exception.Message}");
                return 2;
            }

            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                error.WriteLine($"segctl: no customer '{id}'");
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

            Print(JsonDocument.Parse(body).RootElement, output);
            return 0;
        });
        return command;
    }

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
