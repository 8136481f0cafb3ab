using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Segmentation.Service.Admin;
using Segmentation.Service.Hosting;
using Segmentation.Service.Tests.Infrastructure;

namespace Segmentation.Service.Tests.Admin;

/// <summary>The admin API over HTTP (in-memory test server, real PostgreSQL and RabbitMQ behind it).</summary>
public sealed class AdminApiTests(IsolatedServers servers) : IClassFixture<IsolatedServers>, IAsyncLifetime
{
    private const string Key = "test-admin-key";
    private WebApplication _app = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Admin:ApiKey"] = Key });
        builder.Services.AddSingleton<TimeProvider>(new FakeTimeProvider(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero)));
        builder.Services.AddSegmentationService(
            new SegmentationSettings(servers.RabbitMqUrl, servers.PostgresConnection, servers.SchemaName) { RulesetPath = ExampleRuleset.Path },
            builder.Configuration);
        _app = builder.Build();
        _app.MapAdminApi();
        await _app.StartAsync();
        _http = _app.GetTestClient();
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    [Fact]
    public async Task Requests_without_the_key_are_refused_from_the_network()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, (await _http.GetAsync(new Uri("/rulesets/active", UriKind.Relative))).StatusCode);
        var upload = await _http.PostAsync(new Uri("/rulesets", UriKind.Relative), Yaml("segments: {}"));
        Assert.Equal(HttpStatusCode.Unauthorized, upload.StatusCode);
    }

    [Fact]
    public async Task With_the_key_a_ruleset_is_uploaded_checked_for_conflicts_simulated_and_activated()
    {
        var candidate = await File.ReadAllTextAsync(ExampleRuleset.Path.Replace("ruleset.yaml", "ruleset-candidate.yaml", StringComparison.Ordinal));

        var conflicts = await Json(await Send(HttpMethod.Post, "/rulesets/conflicts", candidate));
        Assert.Contains(conflicts.GetProperty("findings").EnumerateArray(), f => f.GetProperty("kind").GetString() == "conflict");

        var simulation = await Send(HttpMethod.Post, "/rulesets/simulate", candidate);
        Assert.Equal(HttpStatusCode.OK, simulation.StatusCode);

        var uploaded = await Json(await Send(HttpMethod.Post, "/rulesets?fileName=candidate.yaml", candidate));
        var version = uploaded.GetProperty("version").GetString()!;
        var activated = await Send(HttpMethod.Post, $"/rulesets/{version}/activate", null, ("X-Operator", "alice"));
        Assert.Equal(HttpStatusCode.OK, activated.StatusCode);

        var active = await Json(await Send(HttpMethod.Get, "/rulesets/active", null));
        Assert.Equal(version, active.GetProperty("inUse").GetString());
        Assert.Equal("alice", active.GetProperty("activation").GetProperty("activatedBy").GetString());
    }

    [Fact]
    public async Task A_ruleset_with_errors_is_refused_with_line_and_column()
    {
        var response = await Send(HttpMethod.Post, "/rulesets?fileName=bad.yaml", "segments:\n  s:\n    when: count(Purchased, 30d) >=\n");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var error = (await Json(response)).GetProperty("errors")[0].GetString();
        Assert.StartsWith("bad.yaml:3:", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_customer_is_a_404_with_a_message()
    {
        var response = await Send(HttpMethod.Get, "/customers/nobody", null);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("no customer 'nobody'", (await Json(response)).GetProperty("error").GetString());
    }

    [Theory]
    [InlineData("GET", "127.0.0.1", null, null, true)]
    [InlineData("POST", "127.0.0.1", null, null, true)]
    [InlineData("GET", "10.0.0.5", null, null, false)]
    [InlineData("GET", "127.0.0.1", null, "k", true)]
    [InlineData("POST", "127.0.0.1", null, "k", false)]
    [InlineData("POST", "10.0.0.5", "k", "k", true)]
    [InlineData("GET", "10.0.0.5", "wrong", "k", false)]
    public void Access_rules(string method, string remote, string? presented, string? configured, bool allowed) =>
        Assert.Equal(allowed, AdminAccess.Allows(method, IPAddress.Parse(remote), presented, configured));

    private async Task<HttpResponseMessage> Send(HttpMethod method, string path, string? yaml, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative)) { Content = yaml is null ? null : Yaml(yaml) };
        request.Headers.Add(AdminAccess.ApiKeyHeader, Key);
        foreach (var (name, value) in headers) request.Headers.Add(name, value);
        return await _http.SendAsync(request);
    }

    private static StringContent Yaml(string yaml) => new(yaml, Encoding.UTF8, "application/yaml");

    private static async Task<JsonElement> Json(HttpResponseMessage response) =>
        await response.Content.ReadFromJsonAsync<JsonElement>();
}
