using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Npgsql;
using Segmentation.Service.Admin;
using Segmentation.Service.Tests.Infrastructure;

namespace Segmentation.Service.Tests.Admin;

/// <summary>An admin request that cannot reach PostgreSQL is answered 503 with the reason; other failures are not disguised as it.</summary>
public sealed class DatabaseUnavailableTests : IAsyncLifetime
{
    private LoopbackWebApp _web = null!;

    public async Task InitializeAsync() => _web = await LoopbackWebApp.Start(new Dictionary<string, string?>(), _ => { }, app =>
    {
        var admin = app.MapGroup("").AddEndpointFilter(DatabaseUnavailable.Filter);
        admin.MapGet("/unreachable", string () =>
            throw new InvalidOperationException("query failed", new NpgsqlException("Failed to connect to 127.0.0.1:1", new SocketException())));
        admin.MapGet("/bug", string () => throw new InvalidOperationException("a bug"));
    });

    public async Task DisposeAsync() => await _web.DisposeAsync();

    [Fact]
    public async Task A_database_that_does_not_answer_is_a_503_with_the_reason()
    {
        var response = await _web.Http.GetAsync(new Uri("/unreachable", UriKind.Relative));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("the service's database does not answer: Failed to connect to 127.0.0.1:1",
            (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
    }

    [Fact]
    public async Task Any_other_failure_stays_a_500()
    {
        var response = await _web.Http.GetAsync(new Uri("/bug", UriKind.Relative));
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
    }
}
