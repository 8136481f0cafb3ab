using Marten;
using Segmentation.Service.Profiles;

namespace Segmentation.Service.Admin;

public static class CustomerEndpoints
{
    public static IEndpointRouteBuilder MapCustomerEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/customers/{customerId}", async (string customerId, IQuerySession session, CancellationToken ct) =>
            await session.LoadAsync<CustomerProfile>(customerId, ct) is { } profile
                ? Results.Ok(profile)
                : Results.NotFound(new { error = $"no customer '{customerId}'" }));

        app.MapGet("/customers", async (IQuerySession session, CancellationToken ct, int take = 20) =>
            Results.Ok(await session.Query<CustomerProfile>().OrderBy(p => p.Id).Take(Math.Clamp(take, 1, 1000))
                .Select(p => p.Id).ToListAsync(ct)));

        app.MapGet("/stats", async (IQuerySession session, CancellationToken ct) =>
        {
            var customers = await session.Query<CustomerProfile>().CountAsync(ct);
            var events = await session.Events.QueryAllRawEvents().CountAsync(ct);
            return Results.Ok(new { customers, events });
        });
        return app;
    }
}
